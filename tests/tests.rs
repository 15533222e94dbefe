//! The one integration-test binary of the root crate.
