//! asyncbench: how much async buys over blocking code for LLM API calls (library root).
