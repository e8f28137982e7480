// The CI workflow's builds, locally with `docker buildx bake` (matrix targets: buildx >= 0.12).
// Compile once per platform and push the artifact, then build every variant from it:
//
//   export VARIANTS=$(llb-gen targets examples/hello/flotilla.yaml --json | jq -r '.variants | join(",")')
//   docker buildx bake -f examples/ci/docker-bake.hcl core
//   docker buildx bake -f examples/ci/docker-bake.hcl variants
//
// `core` must be pushed first: each variant reads its binaries from BUILDER_IMAGE in the
// registry. Merge the per-platform tags with `docker buildx imagetools create` (see README).

variable "REGISTRY" {
  default = "localhost:5000"
}

// Same meaning as `llb-gen targets --image`: tags are $REGISTRY/$IMAGE-<target>.
variable "IMAGE" {
  default = "hello"
}

variable "TAG" {
  default = "dev"
}

variable "SPEC_DIR" {
  default = "examples/hello"
}

// Comma-separated, as `llb-gen targets --platform`.
variable "PLATFORMS" {
  default = "linux/amd64,linux/arm64"
}

// Comma-separated: the `variants` of `llb-gen targets --json`.
variable "VARIANTS" {
  default = "hello,gateway"
}

// `linux/arm/v7` -> `linux-arm-v7`: the `arch` of `llb-gen targets --json`.
function "arch" {
  params = [platform]
  result = replace(platform, "/", "-")
}

group "default" {
  targets = ["core"]
}

// The build-core job: the `artifact` target per platform, pushed as <sha>-<arch>.
target "core" {
  name       = "core-${arch(platform)}"
  matrix     = { platform = split(",", PLATFORMS) }
  context    = SPEC_DIR
  dockerfile = "flotilla.yaml"
  target     = "artifact"
  platforms  = [platform]
  tags       = ["${REGISTRY}/${IMAGE}-artifact:${TAG}-${arch(platform)}"]
  output     = ["type=registry"]
}

// The build-variants job: each variant × platform, its binaries from that platform's artifact.
target "variants" {
  name       = "${variant}-${arch(platform)}"
  matrix     = { variant = split(",", VARIANTS), platform = split(",", PLATFORMS) }
  context    = SPEC_DIR
  dockerfile = "flotilla.yaml"
  target     = variant
  platforms  = [platform]
  args = {
    BUILDER_IMAGE = "${REGISTRY}/${IMAGE}-artifact:${TAG}-${arch(platform)}"
  }
  tags   = ["${REGISTRY}/${IMAGE}-${variant}:${TAG}-${arch(platform)}"]
  output = ["type=registry"]
}
