//! A second benchmark host for real on this machine: a `podman system
//! service` on a unix socket with its own storage root (its image store
//! starts empty) and runroot, reached through a `[[host]]` entry.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xtask::hosts::{self, Sent};

use crate::support::{fake_project, image_id, podman, workspace};

/// The service of the second host; dropping it kills the service and
/// unmounts what its storage left mounted.
struct SecondHost {
    child: Child,
    dir: tempfile::TempDir,
}

impl SecondHost {
    fn start() -> SecondHost {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let child = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", d.join("sock").display()))
            .env("CONTAINERS_CONF", workspace().join("scripts/containers.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let host = SecondHost { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !host.podman(&["info", "--format", "{{.Store.GraphRoot}}"]).status.success() {
            assert!(Instant::now() < deadline, "the second host's service did not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
        host
    }

    fn url(&self) -> String {
        format!("unix://{}", self.dir.path().join("sock").display())
    }

    fn podman(&self, args: &[&str]) -> std::process::Output {
        let url = self.url();
        podman(&[&["--url", url.as_str()][..], args].concat())
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

impl Drop for SecondHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // containers/storage bind-mounts its overlay directory onto itself.
        for mount in mounts_under(self.dir.path()) {
            let _ = Command::new("umount").arg(&mount).status();
        }
    }
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut out: Vec<String> =
        mounts.lines().filter_map(|l| l.split(' ').nth(1)).filter(|m| m.starts_with(&*dir.to_string_lossy())).map(String::from).collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.len()));
    out
}

#[test]
fn an_image_reaches_a_second_host_by_content_address_with_the_same_id() {
    let p = fake_project(&[("a", "master")], 132, 0);
    p.ok(&["build", "--matrix"]);
    let tag = p.image_tags().pop().unwrap();
    let id = image_id(&tag).unwrap();

    let second = SecondHost::start();
    let graph_root = String::from_utf8(second.podman(&["info", "--format", "{{.Store.GraphRoot}}"]).stdout).unwrap();
    assert_eq!(graph_root.trim(), second.root().to_str().unwrap(), "the second host has its own storage");
    let images = second.podman(&["images", "--quiet"]);
    assert!(images.status.success() && images.stdout.is_empty(), "its image store starts empty");

    p.edit_config(|t| t + &format!("[[host]]\nname = \"second\"\nconnection = \"{}\"\nlabels = {{ disk = \"tmp\" }}\n", second.url()));
    let text = std::fs::read_to_string(p.config()).unwrap();
    let config = gobench_core::config::parse("toolchains.toml", &text).unwrap();
    let entry = &config.host[0];
    let connection = entry.connection();
    let sh = xtask::podman::shell().unwrap();

    let started = Instant::now();
    assert_eq!(hosts::send_image(&sh, entry.name.get_ref(), &connection, &tag, &id).unwrap(), Sent::Copied);
    eprintln!("copied {tag} to the second host in {:.1} s", started.elapsed().as_secs_f64());
    let there = String::from_utf8(second.podman(&["image", "inspect", "--format", "{{.Id}}", &tag]).stdout).unwrap();
    assert_eq!(there.trim(), id, "the same image ID on both hosts");
    assert_eq!(hosts::send_image(&sh, "second", &connection, &tag, &id).unwrap(), Sent::Present, "present: nothing is sent");

    // Other bytes under our content address are an error naming the host.
    let err = hosts::send_image(&sh, "second", &connection, &tag, &"0".repeat(64)).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("host `second`") && err.contains(&id), "{err}");

    let facts = hosts::describe(&sh, "second", &connection, &tag).unwrap();
    let here = xtask::host::describe().unwrap();
    assert_eq!(facts.entry.as_deref(), Some("second"));
    assert_eq!((&facts.cpu_model, facts.kernel.as_str()), (&here.cpu_model, here.kernel.as_str()), "the same machine underneath");
    assert!(facts.cores > 0 && facts.memory_bytes > 0, "{facts:?}");
    let left = second.podman(&["ps", "--all", "--quiet"]);
    assert!(left.status.success() && left.stdout.is_empty(), "no container left on the second host");

    let pid = second.child.id();
    drop(second);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the service is gone");
}
