//! Prints the configuration it would serve with, read from the environment.

fn main() {
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "unset".to_owned());
    println!("hello-gateway ready (RUST_LOG={log})");
}
