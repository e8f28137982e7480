// The CI workflow's builds, locally with `docker buildx bake` (matrix targets: buildx >= 0.12).
// Compile once per platform and push the artifact, then build every variant from it:
//
//   llb-gen targets examples/hello/flotilla.yaml --json > plan.json
//   export VARIANTS=$(jq -r '.variants | join(",")' plan.json)
//   docker buildx bake -f examples/ci/docker-bake.hcl core
//   docker buildx bake -f examples/ci/docker-bake.hcl variants
//
// `core` must be pushed first: each variant reads its binaries from BUILDER_IMAGE in the
// registry. Merge the per-platform tags with `docker buildx imagetools create` (see README).
//
// Only what a change can affect, as the workflow does: plan with `--since REV` (REV: what TAG was
// built from), then bake `core` only when the plan compiles, and `variants` only when it has
// some; without `core`, the variants copy the artifact tagged ARTIFACT_TAG (REV's build):
//
//   llb-gen targets examples/hello/flotilla.yaml --json --since REV > plan.json
//   export VARIANTS=$(jq -r '.variants | join(",")' plan.json)
//   if [ "$(jq '.core.include | length' plan.json)" = 0 ]; then export ARTIFACT_TAG=rev; else
//     docker buildx bake -f examples/ci/docker-bake.hcl core; fi
//   [ -z "$VARIANTS" ] || docker buildx bake -f examples/ci/docker-bake.hcl variants

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

// The tag of the artifact the variants copy from; empty: the one `core` pushes (TAG).
variable "ARTIFACT_TAG" {
  default = ""
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
    BUILDER_IMAGE = "${REGISTRY}/${IMAGE}-artifact:${ARTIFACT_TAG != "" ? ARTIFACT_TAG : TAG}-${arch(platform)}"
  }
  tags   = ["${REGISTRY}/${IMAGE}-${variant}:${TAG}-${arch(platform)}"]
  output = ["type=registry"]
}
