//! `results merge`: which files of shards' result trees to copy into the
//! project, and which conflict, decided on content digests alone.

use std::collections::BTreeMap;

/// A tree's files: path relative to the project root -> content digest.
pub type Files = BTreeMap<String, String>;

/// A path two trees hold with different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub path: String,
    /// The labels of the trees that hold it (`project` for the project),
    /// each once.
    pub holders: Vec<String>,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} differs between {}", self.path, self.holders.join(" and "))
    }
}

/// The files to copy, as `(path, index of the source to copy it from)`, in
/// path order; or every conflict. A file already in the project with the
/// same content is not copied again, so merging twice changes nothing.
/// `skip` (the upload ledger) is never copied: each shard's copy only knows
/// its own uploads, and the project's ledger is the one that counts.
pub fn merge(project: &Files, sources: &[(String, Files)], skip: &[&str]) -> Result<Vec<(String, usize)>, Vec<Conflict>> {
    let mut copies = Vec::new();
    let mut conflicts = Vec::new();
    let mut paths: Vec<&String> = sources.iter().flat_map(|(_, files)| files.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths.into_iter().filter(|p| !skip.contains(&p.as_str())) {
        let mut holders: Vec<(&str, &str)> = project.get(path).map(|d| ("project", d.as_str())).into_iter().collect();
        holders.extend(sources.iter().filter_map(|(label, files)| Some((label.as_str(), files.get(path)?.as_str()))));
        if holders.iter().any(|(_, d)| *d != holders[0].1) {
            let mut labels: Vec<String> = holders.iter().map(|(l, _)| l.to_string()).collect();
            labels.dedup();
            conflicts.push(Conflict { path: path.clone(), holders: labels });
        } else if !project.contains_key(path) {
            let from = sources.iter().position(|(_, files)| files.contains_key(path)).expect("a source holds every path");
            copies.push((path.clone(), from));
        }
    }
    if conflicts.is_empty() {
        Ok(copies)
    } else {
        Err(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries.iter().map(|(p, d)| (p.to_string(), d.to_string())).collect()
    }

    fn sources(trees: &[(&str, &[(&str, &str)])]) -> Vec<(String, Files)> {
        trees.iter().map(|(label, entries)| (label.to_string(), files(entries))).collect()
    }

    const LEDGER: &str = "results/uploads.json";

    #[test]
    fn merge_copies_new_files_skips_identical_ones_and_the_ledger() {
        let project = files(&[("results/t0/a.json", "d0"), (LEDGER, "mine")]);
        let shards = sources(&[
            ("s1", &[("results/t1/a.json", "d1"), ("containerfiles/h.json", "dh"), (LEDGER, "s1's")]),
            ("s2", &[("results/t1/b.json", "d2"), ("containerfiles/h.json", "dh"), ("results/t0/a.json", "d0")]),
        ]);
        let got = merge(&project, &shards, &[LEDGER]).unwrap();
        assert_eq!(
            got,
            [("containerfiles/h.json".to_string(), 0), ("results/t1/a.json".to_string(), 0), ("results/t1/b.json".to_string(), 1)]
        );
        let project = files(&[
            ("results/t0/a.json", "d0"),
            ("results/t1/a.json", "d1"),
            ("results/t1/b.json", "d2"),
            ("containerfiles/h.json", "dh"),
        ]);
        assert_eq!(merge(&project, &shards, &[LEDGER]).unwrap(), [], "merging again copies nothing");
    }

    #[test]
    fn merge_reports_every_conflict_and_copies_nothing() {
        let project = files(&[("results/t0/a.json", "d0")]);
        let shards = sources(&[
            ("s1", &[("results/t0/a.json", "other"), ("results/t1/new.json", "n")]),
            ("s2", &[("results/t1/b.json", "x")]),
            ("s3", &[("results/t1/b.json", "y")]),
        ]);
        let err = merge(&project, &shards, &[LEDGER]).unwrap_err();
        assert_eq!(
            err,
            [
                Conflict { path: "results/t0/a.json".into(), holders: vec!["project".into(), "s1".into()] },
                Conflict { path: "results/t1/b.json".into(), holders: vec!["s2".into(), "s3".into()] },
            ]
        );
        assert_eq!(err[1].to_string(), "results/t1/b.json differs between s2 and s3");
    }
}
