mod gateway_pb {
    include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.frontend.rs"));
}
fn main() {}
