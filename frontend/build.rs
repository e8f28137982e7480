//! Compiles Flotilla's subset of BuildKit's gateway.proto with the vendored protoc; LLB types
//! come from llb-gen so a Definition built there is sent as is.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .btree_map(".")
        .extern_path(".pb", "::llb_gen::pb")
        .compile_with_config(
            config,
            &["proto/gateway.proto"],
            &["proto", "../llb-gen/proto"],
        )?;
    Ok(())
}
