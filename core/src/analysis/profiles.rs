//! `compare --profiles`: which profiles of two sides go into
//! `go tool pprof -top -diff_base`, and its arguments. The toolchain's own
//! pprof does the arithmetic; this only picks the files.

use std::collections::BTreeSet;

use super::Loaded;

/// The profile files of `kind` (`cpu`, `heap`) of the valid runs of `docs`,
/// relative to the project root, in document and run order.
pub fn files(docs: &[&Loaded], kind: &str) -> Vec<String> {
    docs.iter()
        .flat_map(|l| {
            let dir = l.path.rsplit_once('/').map_or("", |(d, _)| d);
            l.doc
                .valid_runs()
                .filter_map(move |r| r.profiles.get(kind).map(|name| if dir.is_empty() { name.clone() } else { format!("{dir}/{name}") }))
        })
        .collect()
}

/// The kinds of profile both sides have, sorted.
pub fn common_kinds(a: &[&Loaded], b: &[&Loaded]) -> Vec<String> {
    let kinds = |docs: &[&Loaded]| -> BTreeSet<String> {
        docs.iter().flat_map(|l| l.doc.valid_runs().flat_map(|r| r.profiles.keys().cloned())).collect()
    };
    kinds(a).intersection(&kinds(b)).cloned().collect()
}

/// `go tool pprof` arguments: the `nodes` functions whose flat share changed
/// most from the merged `base` profiles to the merged `new` ones; the files
/// are relative paths under `mount`.
pub fn top_diff_args(base: &[String], new: &[String], mount: &str, nodes: u32) -> Vec<String> {
    let mut args: Vec<String> = ["tool", "pprof", "-top", &format!("-nodecount={nodes}")].map(String::from).to_vec();
    args.extend(base.iter().map(|f| format!("-diff_base={mount}/{f}")));
    args.extend(new.iter().map(|f| format!("{mount}/{f}")));
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Validity;
    use crate::schema::ResultDoc;

    fn doc(path: &str, runs: &[(bool, &[(&str, &str)])]) -> Loaded {
        let mut doc: ResultDoc = serde_json::from_str(
            &std::fs::read_to_string(format!("{}/../tests/golden/document/etcd-put.json", env!("CARGO_MANIFEST_DIR"))).unwrap(),
        )
        .unwrap();
        let template = doc.runs[0].clone();
        doc.runs = runs
            .iter()
            .enumerate()
            .map(|(i, (valid, profiles))| {
                let mut r = template.clone();
                r.index = i as u32;
                r.validity = if *valid { Validity::from_reasons(vec![]) } else { Validity::from_reasons(vec!["bad".into()]) };
                r.profiles = profiles.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                r
            })
            .collect();
        Loaded { path: path.to_string(), doc }
    }

    #[test]
    fn the_profiles_of_valid_runs_beside_their_documents() {
        let a = doc(
            "results/t1/c.json",
            &[(true, &[("cpu", "c.run-0.cpu.pb.gz"), ("heap", "c.run-0.heap.pb.gz")]), (false, &[("cpu", "c.run-1.cpu.pb.gz")])],
        );
        let a2 = doc("results/t2/c.json", &[(true, &[("cpu", "c.run-0.cpu.pb.gz")])]);
        let b = doc("c.json", &[(true, &[("cpu", "c.run-0.cpu.pb.gz")]), (true, &[])]);
        assert_eq!(files(&[&a, &a2], "cpu"), ["results/t1/c.run-0.cpu.pb.gz", "results/t2/c.run-0.cpu.pb.gz"]);
        assert_eq!(files(&[&a], "heap"), ["results/t1/c.run-0.heap.pb.gz"]);
        assert_eq!(files(&[&b], "cpu"), ["c.run-0.cpu.pb.gz"]);
        assert_eq!(common_kinds(&[&a], &[&b]), ["cpu"]);
        assert_eq!(common_kinds(&[&a], &[&a]), ["cpu", "heap"]);
        assert!(common_kinds(&[&b], &[&doc("d.json", &[(false, &[("cpu", "x")])])]).is_empty());
    }

    #[test]
    fn pprof_merges_each_side_and_diffs_against_the_base() {
        let args = top_diff_args(&["a/1.pb.gz".into(), "a/2.pb.gz".into()], &["b/1.pb.gz".into()], "/p", 20);
        assert_eq!(args, ["tool", "pprof", "-top", "-nodecount=20", "-diff_base=/p/a/1.pb.gz", "-diff_base=/p/a/2.pb.gz", "/p/b/1.pb.gz"]);
    }
}
