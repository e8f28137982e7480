//! Prints its version, or the address it would serve webhooks on (from `GATEWAY_LISTEN`).

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("gateway {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    println!("gateway ready to forward webhooks on {listen}");
}
