//! Benchmark hosts reached through podman's remote API: an image sent to a
//! host by content address, and the host's facts for its results.

use std::process::Stdio;

use anyhow::{Context, Result};
use gobench_core::hosts::Connection;
use gobench_core::schema::Host;
use xshell::{cmd, Shell};

use crate::podman;

/// How an image reached a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The host had the tag with the same image ID: nothing was sent.
    Present,
    /// `podman save | podman load` copied it.
    Copied,
}

/// Makes image `tag` (local image ID `id`) present on host `name`: nothing
/// is sent when the host has the tag, else it is copied. Either way the
/// host's image ID must equal `id`; otherwise the host holds other bytes
/// under our content address, an error that names the host.
pub fn send_image(sh: &Shell, name: &str, connection: &Connection, tag: &str, id: &str) -> Result<Sent> {
    let flags = connection.podman_args();
    let sent = if podman::image_exists_at(sh, &flags, tag)? {
        Sent::Present
    } else {
        copy(&flags, tag).with_context(|| format!("copying {tag} to host `{name}`"))?;
        Sent::Copied
    };
    let there = podman::inspect_at(sh, &flags, tag, "{{.Id}}")?;
    anyhow::ensure!(
        there.trim() == id,
        "host `{name}` has image ID {} for {tag}, not {id}: its image is not the one this hash names; remove it there (`podman {} rmi {tag}`) and send it again",
        there.trim(),
        flags.join(" ")
    );
    Ok(sent)
}

/// `podman save TAG | podman <flags> load`, both ends checked.
fn copy(flags: &[String], tag: &str) -> Result<()> {
    let mut save = podman::command().args(["save", tag]).stdout(Stdio::piped()).spawn().context("starting `podman save`")?;
    let stream = save.stdout.take().context("the output of `podman save`")?;
    let load = podman::command().args(flags).args(["load", "--quiet"]).stdin(stream).output();
    let saved = save.wait().context("waiting for `podman save`")?;
    let load = load.with_context(|| format!("running `podman {} load`", flags.join(" ")))?;
    anyhow::ensure!(saved.success(), "`podman save {tag}` failed ({saved})");
    anyhow::ensure!(load.status.success(), "`podman {} load` failed: {}", flags.join(" "), String::from_utf8_lossy(&load.stderr).trim());
    Ok(())
}

/// The facts of host `name` for its results: from `podman info` there, and
/// the CPU model from `/proc/cpuinfo` read in `probe` (an image the host
/// has), since podman does not report it.
pub fn describe(sh: &Shell, name: &str, connection: &Connection, probe: &str) -> Result<Host> {
    let owned = connection.podman_args();
    let flags = &owned;
    let info = cmd!(sh, "podman {flags...} info --format json")
        .quiet()
        .read()
        .with_context(|| format!("asking host `{name}` for `podman info`"))?;
    let info: serde_json::Value = serde_json::from_str(&info).with_context(|| format!("reading `podman info` of host `{name}`"))?;
    let host = &info["host"];
    let cpuinfo = cmd!(sh, "podman {flags...} run --rm --network=none {probe} cat /proc/cpuinfo")
        .quiet()
        .read()
        .with_context(|| format!("reading /proc/cpuinfo on host `{name}` in {probe}"))?;
    Ok(Host {
        name: host["hostname"].as_str().unwrap_or("unknown").to_string(),
        cpu_model: crate::host::cpu_model(&cpuinfo),
        cores: host["cpus"].as_u64().unwrap_or(0) as u32,
        memory_bytes: host["memTotal"].as_u64().unwrap_or(0),
        kernel: host["kernel"].as_str().unwrap_or("unknown").to_string(),
        entry: Some(name.to_string()),
        fsync_probe: None,
    })
}
