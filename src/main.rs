//! The `asyncbench` binary (placeholder until the client strategies land).

fn main() {
    println!("asyncbench: client strategies are not built yet; see README.md");
}
