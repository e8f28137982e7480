//! The spec file: read once from the client, parsed, and quoted by errors about its lines.

use llb_gen::spec::{DEFAULT_FILENAME, Spec};

use crate::bridge::{Bridge, Failure};
use crate::client_files;
use crate::error::BuildError;
use crate::options::Options;

/// The spec file as the client sent it: errors about its lines quote it.
pub struct SpecFile {
    /// Its file name (option `filename`).
    pub filename: String,
    /// Its bytes, for the Definition's source map and errors' source details.
    pub bytes: Vec<u8>,
}

impl SpecFile {
    /// Reads the spec named by option `filename`.
    pub async fn read(bridge: &Bridge, options: &Options) -> Result<Self, BuildError> {
        let filename = options.get("filename").unwrap_or(DEFAULT_FILENAME);
        let bytes = client_files::read_spec(bridge, options, filename).await?;
        Ok(Self {
            filename: filename.to_owned(),
            bytes,
        })
    }

    /// The spec, decoded, parsed and validated.
    pub fn parse(&self) -> Result<Spec, BuildError> {
        let text = llb_gen::spec::decode(&self.filename, self.bytes.clone())?;
        Ok(llb_gen::load(&text, &self.filename)?)
    }

    /// `result`'s error as the frontend returns it, with a Source detail into this spec when the
    /// error has a spec location.
    pub fn locate<T>(&self, result: Result<T, BuildError>) -> Result<T, Failure> {
        result.map_err(|error| error.into_failure(Some((&self.filename, &self.bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_bridge::{self, Daemon};

    #[tokio::test]
    async fn a_spec_over_the_size_limit_is_refused_before_parsing_and_quoted_by_its_first_line() {
        let spec = format!("# syntax=x\n{}", "#".repeat(llb_gen::spec::MAX_SPEC_BYTES));
        let (bridge, _) = fake_bridge::serve(Daemon::holding(&spec)).await;
        let options = Options::from_opts(&["filename=big.yaml"]);
        let spec_file = SpecFile::read(&bridge, &options).await.unwrap();
        let Err(failure) = spec_file.locate(spec_file.parse()) else {
            panic!("a failure")
        };
        assert_eq!(
            failure.message,
            "big.yaml: the spec is larger than 1048576 bytes (1 MiB), the size limit of a spec"
        );
        // Only the first line is quoted: the whole spec would not fit in a gRPC trailer.
        let [detail] = &failure.details[..] else {
            panic!("one detail: {:?}", failure.details)
        };
        let quoted: serde_json::Value = serde_json::from_slice(&detail.value).unwrap();
        assert_eq!(
            quoted["info"]["data"], "IyBzeW50YXg9eAo=",
            "`# syntax=x\\n`"
        );
    }
}
