//! Subrequests (option `requestid`): questions about the spec, such as `docker buildx build
//! --call targets`, answered with metadata instead of an image. The answers come from
//! `llb_gen::subrequest`; this only reads the spec and packs them.

use std::collections::BTreeMap;

use llb_gen::subrequest::{self, Answer};
use llb_gen::target;

use crate::bridge::{Bridge, Failure};
use crate::gateway_pb::Any;
use crate::options::Options;
use crate::pipeline::{self, BuildError};

/// BuildKit's typed error detail for a subrequest the frontend does not know.
const UNKNOWN_SUBREQUEST_TYPE: &str = "github.com/moby/buildkit/errdefs.Subrequest+json";

/// The metadata answering subrequest `id`: `result.json`, `result.txt` and `version`.
pub async fn answer(
    bridge: &Bridge,
    options: &Options,
    id: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let answer = match id {
        subrequest::DESCRIBE => subrequest::describe(),
        subrequest::TARGETS => {
            subrequest::targets(&pipeline::load_spec(bridge, options).await?.spec)
        }
        subrequest::OUTLINE => outline(bridge, options).await?,
        _ => return Err(unknown(id)),
    };
    let Answer { json, text } = answer;
    Ok(BTreeMap::from([
        ("result.json".to_owned(), json.into_bytes()),
        ("result.txt".to_owned(), text.into_bytes()),
        (
            "version".to_owned(),
            subrequest::VERSION.as_bytes().to_vec(),
        ),
    ]))
}

/// The outline of option `target` (default: the first variant); a bad target is an error.
async fn outline(bridge: &Bridge, options: &Options) -> Result<Answer, BuildError> {
    let spec = pipeline::load_spec(bridge, options).await?.spec;
    let values = pipeline::arg_values(options, &options.platform()?);
    let target = target::select(&spec, options.get("target"), &values)?;
    Ok(subrequest::outline(&spec, target.name, &values.build_args))
}

/// The error for an unknown subrequest, typed so clients can say the frontend lacks it.
fn unknown(id: &str) -> Failure {
    Failure {
        message: format!(
            "unsupported subrequest `{id}`; Flotilla answers {}, {} and {}",
            subrequest::DESCRIBE,
            subrequest::OUTLINE,
            subrequest::TARGETS
        ),
        details: vec![Any {
            type_url: UNKNOWN_SUBREQUEST_TYPE.to_owned(),
            value: serde_json::json!({ "name": id }).to_string().into_bytes(),
        }],
    }
}
