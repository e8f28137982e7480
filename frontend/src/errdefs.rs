//! BuildKit's typed error details (`solver/errdefs`), encoded as BuildKit encodes them in a
//! google.rpc.Status: a google.protobuf.Any whose type URL ends in `+json` and whose value is
//! the message as Go's `encoding/json` writes it (`withDetails` in
//! `util/grpcerrors/grpcerrors.go`, the `typeurl.Register` calls in `solver/errdefs`). BuildKit
//! turns them back into typed errors on Return, and buildx prints every `Source` it finds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use llb_gen::Position;
use llb_gen::llb::SpecRange;
use serde_json::json;

use crate::gateway_pb::Any;

/// `errdefs.Subrequest`: a subrequest the frontend does not know.
const SUBREQUEST: &str = "github.com/moby/buildkit/errdefs.Subrequest+json";
/// `errdefs.Source`: lines of a source file the error is about.
const SOURCE: &str = "github.com/moby/buildkit/errdefs.Source+json";
/// `errdefs.Vertex`: the digest of the op whose failure the error is (BuildKit 0.8.3+).
const VERTEX: &str = "github.com/moby/buildkit/errdefs.Vertex+json";
/// The spec's language, as a linguist name like the dockerfile frontend's `Dockerfile`. Only
/// BuildKit 0.12+ has the field; older ones skip it.
const SPEC_LANGUAGE: &str = "YAML";

/// Says that subrequest `name` is unknown, so clients can tell the frontend lacks it.
pub fn unknown_subrequest(name: &str) -> Any {
    Any {
        type_url: SUBREQUEST.to_owned(),
        value: json!({ "name": name }).to_string().into_bytes(),
    }
}

/// Points at `positions` of spec `filename`, whose bytes are `data`: buildx prints those lines
/// and their neighbours above the error.
pub fn source(filename: &str, data: &[u8], positions: &[Position]) -> Any {
    let ranges: Vec<_> = positions
        .iter()
        .map(|position| {
            let range = SpecRange {
                line: position.line,
                column: position.column,
                end_line: position.line,
            }
            .to_pb();
            let point = |point: Option<llb_gen::pb::Position>| {
                let point = point.unwrap_or_default();
                json!({ "line": point.line, "character": point.character })
            };
            json!({ "start": point(range.start), "end": point(range.end) })
        })
        .collect();
    // Go encodes bytes as standard base64.
    let value = json!({
        "info": {
            "filename": filename,
            "data": STANDARD.encode(data),
            "language": SPEC_LANGUAGE,
        },
        "ranges": ranges,
    });
    Any {
        type_url: SOURCE.to_owned(),
        value: value.to_string().into_bytes(),
    }
}

/// Points at the first line of spec `filename` (whose bytes start with `data`), quoting only
/// that line: what an error about no line in particular shows.
pub fn first_line(filename: &str, data: &[u8]) -> Any {
    let end = data
        .iter()
        .take(MAX_QUOTED_LINE)
        .position(|&byte| byte == b'\n')
        .map_or(data.len().min(MAX_QUOTED_LINE), |newline| newline + 1);
    source(filename, &data[..end], &[Position { line: 1, column: 1 }])
}

/// The most of a first line [`first_line`] quotes.
const MAX_QUOTED_LINE: usize = 4096;

/// Whether `detail` is a Source detail.
pub fn is_source(detail: &Any) -> bool {
    detail.type_url == SOURCE
}

/// The digest of the failing op, from BuildKit's Vertex detail among `details`: the exact
/// way to tell which step failed, where the error's text only names its argv.
pub fn failed_vertex(details: &[Any]) -> Option<String> {
    /// Go's JSON of `errdefs.Vertex`.
    #[derive(serde::Deserialize)]
    struct Vertex {
        digest: String,
    }
    details
        .iter()
        .filter(|detail| detail.type_url == VERTEX)
        .find_map(|detail| serde_json::from_slice::<Vertex>(&detail.value).ok())
        .map(|vertex| vertex.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_detail_is_json_as_buildkit_decodes_it() {
        let detail = source("f.yaml", b"a\nb\n", &[Position { line: 2, column: 3 }]);
        assert_eq!(detail.type_url, SOURCE);
        let value: serde_json::Value = serde_json::from_slice(&detail.value).unwrap();
        assert_eq!(
            value,
            json!({
                "info": {"filename": "f.yaml", "data": "YQpiCg==", "language": "YAML"},
                "ranges": [{
                    "start": {"line": 2, "character": 3},
                    "end": {"line": 2, "character": 0},
                }],
            })
        );
    }

    #[test]
    fn a_first_line_source_quotes_that_line_only() {
        let detail = first_line("f.yaml", b"# syntax=x\nversion: 1\n");
        assert!(is_source(&detail));
        let value: serde_json::Value = serde_json::from_slice(&detail.value).unwrap();
        assert_eq!(value["info"]["data"], STANDARD.encode("# syntax=x\n"));
        assert_eq!(value["ranges"][0]["start"]["line"], 1);
        let long = vec![b'#'; MAX_QUOTED_LINE * 2];
        let value: serde_json::Value =
            serde_json::from_slice(&first_line("f.yaml", &long).value).unwrap();
        let quoted = STANDARD
            .decode(value["info"]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(quoted.len(), MAX_QUOTED_LINE);
    }

    #[test]
    fn the_failed_vertex_is_read_from_its_detail_only() {
        let vertex = |json: &str| Any {
            type_url: VERTEX.to_owned(),
            value: json.as_bytes().to_vec(),
        };
        let source = source("f.yaml", b"a\n", &[Position { line: 1, column: 1 }]);
        assert_eq!(
            failed_vertex(&[source.clone(), vertex(r#"{"digest":"sha256:ab"}"#)]),
            Some("sha256:ab".to_owned())
        );
        assert_eq!(failed_vertex(&[source]), None);
        assert_eq!(failed_vertex(&[vertex("not json")]), None);
    }
}
