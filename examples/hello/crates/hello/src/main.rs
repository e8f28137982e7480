//! Prints a greeting naming the machine architecture it was built for.

fn main() {
    let who = std::env::args().nth(1).unwrap_or_else(|| "flotilla".to_owned());
    println!("hello from {who} ({})", std::env::consts::ARCH);
}
