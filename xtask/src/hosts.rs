//! Benchmark hosts reached through podman's remote API: an image sent to a
//! host by content address, and the host's facts for its results.

use std::process::Stdio;

use anyhow::{Context, Result};
use gobench_core::hosts::Connection;
use gobench_core::schema::Host;
use xshell::cmd;

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
pub fn send_image(name: &str, connection: &Connection, tag: &str, id: &str) -> Result<Sent> {
    let there = podman::shell_at(connection)?;
    let sent = if podman::image_exists(&there, tag)? {
        Sent::Present
    } else {
        copy(connection, tag).with_context(|| format!("copying {tag} to host `{name}`"))?;
        Sent::Copied
    };
    let there = podman::inspect(&there, tag, "{{.Id}}").with_context(|| format!("on host `{name}`"))?;
    anyhow::ensure!(
        there.trim() == id,
        "host `{name}` has image ID {} for {tag}, not {id}: its image is not the one this hash names; remove it there (`podman {} rmi {tag}`) and send it again",
        there.trim(),
        connection.podman_args().join(" ")
    );
    Ok(sent)
}

/// `podman save TAG | podman load` on `connection`, both ends checked.
fn copy(connection: &Connection, tag: &str) -> Result<()> {
    let mut save = podman::command().args(["save", tag]).stdout(Stdio::piped()).spawn().context("starting `podman save`")?;
    let stream = save.stdout.take().context("the output of `podman save`")?;
    let load = podman::command_at(connection).args(["load", "--quiet"]).stdin(stream).output();
    let saved = save.wait().context("waiting for `podman save`")?;
    let load = load.context("running `podman load` on the host")?;
    anyhow::ensure!(saved.success(), "`podman save {tag}` failed ({saved})");
    anyhow::ensure!(load.status.success(), "`podman load` on the host failed: {}", String::from_utf8_lossy(&load.stderr).trim());
    Ok(())
}

/// The facts of host `name` for its results: from `podman info` there, and
/// the CPU model from `/proc/cpuinfo` read in `probe` (an image the host
/// has), since podman does not report it.
pub fn describe(name: &str, connection: &Connection, probe: &str) -> Result<Host> {
    let there = podman::shell_at(connection)?;
    let info =
        cmd!(there, "podman info --format json").quiet().read().with_context(|| format!("asking host `{name}` for `podman info`"))?;
    let info: serde_json::Value = serde_json::from_str(&info).with_context(|| format!("reading `podman info` of host `{name}`"))?;
    let host = &info["host"];
    let cpuinfo = cmd!(there, "podman run --rm --network=none {probe} cat /proc/cpuinfo")
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
