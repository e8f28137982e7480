//! Subrequests (option `requestid`): questions about the spec, such as `docker buildx build
//! --call targets`, answered with metadata instead of an image. The answers come from
//! `llb_gen::subrequest`; this only reads the spec and packs them.

use std::collections::BTreeMap;

use llb_gen::subrequest::{self, Answer};
use llb_gen::target;

use crate::bridge::{Bridge, Failure};
use crate::errdefs;
use crate::error::BuildError;
use crate::options::Options;
use crate::spec_file::SpecFile;

/// The metadata answering subrequest `id`: `result.json`, `result.txt` and `version`.
pub async fn answer(
    bridge: &Bridge,
    options: &Options,
    id: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let answer = match id {
        subrequest::DESCRIBE => subrequest::describe(),
        subrequest::TARGETS => {
            let spec_file = SpecFile::read(bridge, options).await?;
            subrequest::targets(&spec_file.locate(spec_file.parse())?)
        }
        subrequest::OUTLINE => {
            let spec_file = SpecFile::read(bridge, options).await?;
            spec_file.locate(outline(&spec_file, options))?
        }
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
fn outline(spec_file: &SpecFile, options: &Options) -> Result<Answer, BuildError> {
    let spec = spec_file.parse()?;
    let platform = options.platform()?;
    let values = options.arg_values(&platform);
    let contexts = options.named_contexts(&platform);
    let target = target::select(&spec, options.get("target"), &values, &contexts)?;
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
        details: vec![errdefs::unknown_subrequest(id)],
    }
}

#[cfg(test)]
mod tests {
    use crate::fake_bridge::{self, Daemon};
    use crate::gateway_pb::ReturnRequest;

    const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");

    /// Runs the frontend on a healthy daemon holding the hello example's spec.
    async fn run(opts: &[&str]) -> ReturnRequest {
        fake_bridge::run(Daemon::holding(HELLO), opts).await
    }

    fn metadata_json(request: &ReturnRequest) -> serde_json::Value {
        let result = request.result.as_ref().expect("a result");
        assert!(result.result.is_none(), "no ref");
        let keys: Vec<&str> = result.metadata.keys().map(String::as_str).collect();
        assert_eq!(keys, ["result.json", "result.txt", "version"]);
        serde_json::from_slice(&result.metadata["result.json"]).unwrap()
    }

    #[tokio::test]
    async fn targets_are_returned_as_metadata() {
        let request = run(&["requestid=frontend.targets", "add-hosts="]).await;
        let json = metadata_json(&request);
        let names: Vec<&str> = json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["hello", "gateway", "artifact"]);
    }

    #[tokio::test]
    async fn outline_follows_the_target_option() {
        let request = run(&["requestid=frontend.outline", "target=gateway"]).await;
        assert_eq!(metadata_json(&request)["name"], "gateway");
        let request = run(&["requestid=frontend.outline", "target=nope"]).await;
        let error = request.error.expect("an error");
        assert!(
            error.message.starts_with("unknown target `nope`"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn describe_needs_no_spec_and_unknown_ids_are_typed_errors() {
        let request = run(&["requestid=frontend.subrequests.describe"]).await;
        assert!(metadata_json(&request).is_array());
        let request = run(&["requestid=frontend.lint"]).await;
        assert!(request.result.is_none());
        let error = request.error.expect("an error");
        assert!(error.message.contains("frontend.lint"), "{}", error.message);
        assert_eq!(
            error.details[0].type_url,
            "github.com/moby/buildkit/errdefs.Subrequest+json"
        );
        assert_eq!(error.details[0].value, br#"{"name":"frontend.lint"}"#);
    }
}
