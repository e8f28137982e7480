//! Compiles Flotilla's subset of BuildKit's ops.proto with the vendored protoc,
//! so a fresh `cargo build` needs nothing from the system package manager.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        // Sorted maps make marshaling deterministic, so equal ops get equal digests.
        .btree_map(".")
        .compile_with_config(config, &["proto/ops.proto"], &["proto"])?;
    Ok(())
}
