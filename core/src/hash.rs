//! Content addressing: the image hash is SHA-256 over a canonical JSON
//! serialisation of every input that determines an image.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped whenever the way images are built changes without the
/// Containerfile text changing (build flags, mounts, the meaning of a field),
/// so old hashes are not reused for new recipes.
pub const RECIPE_VERSION: u32 = 1;

/// Everything an image depends on. Field order is fixed by the struct and
/// maps are sorted, so serialisation is canonical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageInputs {
    pub recipe: u32,
    /// `go-toolchain` or `workload`.
    pub kind: String,
    pub containerfile: String,
    /// Commit SHAs of the sources the build reads, by role (`go`, `workload`).
    pub shas: BTreeMap<String, String>,
    /// The base image reference with its digest.
    pub base: String,
    /// The bootstrap Go (`go1.27.3 /usr/local/go-bootstrap`).
    pub bootstrap: String,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Hash of the image this one is built `FROM`, if it is one of ours.
    pub parent: Option<String>,
}

impl ImageInputs {
    /// The canonical bytes the hash is taken over; also what is written to
    /// `containerfiles/<hash>.json`, so `sha256sum` of that file is the hash.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("inputs always serialise")
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256Hex::default();
    h.update(bytes);
    h.finish()
}

/// SHA-256 over bytes fed in pieces (a file read in chunks), as lowercase hex.
#[derive(Default)]
pub struct Sha256Hex(Sha256);

impl Sha256Hex {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        self.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::io::Write for Sha256Hex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> ImageInputs {
        ImageInputs {
            recipe: RECIPE_VERSION,
            kind: "go-toolchain".into(),
            containerfile: "FROM x\n".into(),
            shas: BTreeMap::from([("go".to_string(), "a".repeat(40))]),
            base: format!("localhost/base:1@sha256:{}", "0".repeat(64)),
            bootstrap: "go1.27.3 /usr/local/go-bootstrap".into(),
            build_args: BTreeMap::new(),
            parent: None,
        }
    }

    /// The hash of a fixed input, pinned: a change here means every image
    /// hash in every results file changes, which needs a RECIPE_VERSION bump.
    #[test]
    fn stable_across_runs_and_machines() {
        let h = inputs().hash();
        assert_eq!(h, sha256_hex(inputs().canonical().as_bytes()));
        assert_eq!(h.len(), 64);
        assert_eq!(
            inputs().canonical(),
            format!(
                r#"{{"recipe":1,"kind":"go-toolchain","containerfile":"FROM x\n","shas":{{"go":"{}"}},"base":"localhost/base:1@sha256:{}","bootstrap":"go1.27.3 /usr/local/go-bootstrap","build_args":{{}},"parent":null}}"#,
                "a".repeat(40),
                "0".repeat(64)
            )
        );
        assert_eq!(h, "7499f1111c3c47092307813ebc42fdac585eae5bc6378ab2ee9132703dce2c28");
    }

    #[test]
    fn every_input_changes_the_hash() {
        let base = inputs().hash();
        type Edit = Box<dyn Fn(&mut ImageInputs)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("recipe", Box::new(|i| i.recipe += 1)),
            ("kind", Box::new(|i| i.kind = "workload".into())),
            ("containerfile", Box::new(|i| i.containerfile.push(' '))),
            (
                "sha",
                Box::new(|i| {
                    i.shas.insert("go".into(), "b".repeat(40));
                }),
            ),
            (
                "new sha",
                Box::new(|i| {
                    i.shas.insert("workload".into(), "b".repeat(40));
                }),
            ),
            ("base", Box::new(|i| i.base = i.base.replace("sha256:0", "sha256:1"))),
            ("bootstrap", Box::new(|i| i.bootstrap = "go1.26.0 /usr/local/go-bootstrap".into())),
            (
                "build arg",
                Box::new(|i| {
                    i.build_args.insert("GOAMD64".into(), "v3".into());
                }),
            ),
            ("parent", Box::new(|i| i.parent = Some("c".repeat(64)))),
        ];
        let mut seen = std::collections::BTreeSet::from([base.clone()]);
        for (what, edit) in edits {
            let mut i = inputs();
            edit(&mut i);
            assert!(seen.insert(i.hash()), "changing {what} did not give a new hash");
        }
    }
}
