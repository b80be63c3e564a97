//! `cargo xtask doctor`: can this machine build and run the matrix, and
//! (`--hosts`) can every `[[host]]` run it? Each check says what it found
//! and, when it fails, what to do about it.

use anyhow::Result;
use gobench_core::config::Config;
use gobench_core::hosts;
use xshell::{cmd, Shell};

use crate::paths::Paths;
use crate::{flags, podman};

struct Check {
    name: &'static str,
    outcome: Result<String, String>,
}

impl flags::Doctor {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let sh = podman::shell()?;
        let mut failed = report(&checks(&sh, paths));
        if self.hosts {
            let config = paths.load_config()?;
            for host in hosts::pool(&config.host) {
                println!("host `{}` ({})", host.display(), host.connection.podman_args().join(" "));
                let checks = host_checks(&podman::shell_at(&host.connection)?, &config);
                failed += report(&checks);
            }
        }
        anyhow::ensure!(failed == 0, "{failed} checks failed; fix them in order, the later ones often follow from the first");
        Ok(())
    }
}

/// Prints the checks; returns how many failed.
fn report(checks: &[Check]) -> usize {
    let mut failed = 0;
    for c in checks {
        match &c.outcome {
            Ok(found) => println!("ok    {:<10} {found}", c.name),
            Err(fix) => {
                failed += 1;
                println!("FAIL  {:<10} {fix}", c.name);
            }
        }
    }
    failed
}

fn read(c: xshell::Cmd<'_>) -> Result<String, String> {
    let out = c.quiet().ignore_status().output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(if out.status.success() { &out.stdout } else { &out.stderr }).trim().to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(text.lines().last().unwrap_or("failed").to_string())
    }
}

fn checks(sh: &Shell, paths: &Paths) -> Vec<Check> {
    let conf = podman::containers_conf();
    let mut out = vec![
        Check { name: "git", outcome: read(cmd!(sh, "git --version")).map_err(|_| "git is missing: apt-get install -y git".into()) },
        Check {
            name: "config",
            outcome: if conf.exists() {
                Ok(format!("CONTAINERS_CONF={}", conf.display()))
            } else {
                Err(format!("{} does not exist; unset CONTAINERS_CONF to use scripts/containers.conf", conf.display()))
            },
        },
    ];
    match paths.load_config() {
        Err(e) => out.push(Check { name: "pins", outcome: Err(format!("{e:#}")) }),
        Ok(config) => out.extend(host_checks(sh, &config)),
    }
    out
}

/// The checks of the podman a shell addresses: this machine's, or a
/// `[[host]]`'s through its connection.
fn host_checks(sh: &Shell, config: &Config) -> Vec<Check> {
    let conf = podman::containers_conf();
    let version_format = "{{.Version.Version}}";
    let runtime_format = "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}";
    let graphroot_format = "{{.Store.GraphRoot}}";
    let base = config.base_reference();
    let base_ok = podman::image_exists(sh, &base).unwrap_or(false);
    let same_machine = podman::host_of(sh).same_machine();
    let mut out = vec![
        Check {
            name: "podman",
            outcome: read(cmd!(sh, "podman info --format {version_format}"))
                .map(|v| format!("podman {v}"))
                .map_err(|e| format!("podman does not answer ({e}): apt-get install -y podman runc, or for a host check its connection and that `podman system service` runs there")),
        },
        Check {
            name: "runtime",
            outcome: read(cmd!(sh, "podman info --format {runtime_format}")).and_then(|r| {
                if r.starts_with("runc") {
                    Ok(r.lines().next().unwrap_or("").to_string())
                } else {
                    Err(format!("podman uses `{r}`; crun fails on these hosts' hybrid cgroups: apt-get install -y runc and keep `runtime = \"runc\"` in {}", conf.display()))
                }
            }),
        },
        Check {
            name: "storage",
            outcome: read(cmd!(sh, "podman info --format {graphroot_format}")).and_then(|root| {
                // Another machine's disk is only seen from a container there.
                let avail = if same_machine {
                    read(cmd!(sh, "df --output=avail -B1G {root}"))?
                } else if base_ok {
                    let mount = format!("{root}:/store:ro");
                    read(cmd!(sh, "podman run --rm --network=none --pull=never --volume {mount} {base} df --output=avail -B1G /store"))?
                } else {
                    return Err(format!("{root}: free space unknown until the host has the base image {base}"));
                };
                let gib: u64 = avail.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
                if gib >= 10 {
                    Ok(format!("{root}, {gib} GiB free"))
                } else {
                    Err(format!("{root} has {gib} GiB free; a toolchain image takes about 1 GiB and builds need more: free space or `podman image prune`"))
                }
            }),
        },
    ];
    out.push(Check {
        name: "base",
        outcome: if base_ok {
            Ok(base.clone())
        } else if podman::image_exists(sh, config.base.image.get_ref()).unwrap_or(false) {
            let have = podman::inspect(sh, config.base.image.get_ref(), "{{.Digest}}").unwrap_or_default();
            Err(format!("{} exists with digest {have}, but toolchains.toml pins {}: the Debian mirror moved since it was pinned; set `digest = \"{have}\"` in [base] (this changes every image hash)", config.base.image.get_ref(), config.base.digest.get_ref()))
        } else {
            Err(format!("{base} is missing: run `bash scripts/base-image.sh` (offline from Debian packages and PyPI), or pull the registry image it names"))
        },
    });
    for b in &config.base.bootstrap {
        let go = format!("{}/bin/go", b.goroot);
        out.push(Check {
            name: "bootstrap",
            outcome: if base_ok {
                read(cmd!(sh, "podman run --rm --network=none --pull=never {base} {go} version"))
                    .map_err(|e| format!("{go} does not run in the base image ({e}); remake it with scripts/base-image.sh"))
                    .and_then(|v| {
                        if v.contains(&format!("go{} ", b.version)) {
                            Ok(v)
                        } else {
                            Err(format!("{go} reports `{v}`, but [[base.bootstrap]] says {}", b.version))
                        }
                    })
            } else {
                Err("needs the base image".into())
            },
        });
    }
    out
}
