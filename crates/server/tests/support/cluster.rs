//! A throwaway PostgreSQL cluster for one test: `initdb` into a temporary directory, started
//! with `pg_ctl` on a free port of 127.0.0.1 with the test's `pg_hba.conf` and settings, and
//! stopped (`-m immediate`) and deleted when dropped, also when the test fails.
//!
//! As root (CI), `initdb` and the server run as the `postgres` user through `runuser`.

#![allow(dead_code)]

use std::{
    fs,
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{SystemTime, UNIX_EPOCH},
};

/// What the test sets up before the server starts.
#[derive(Default)]
pub struct Setup {
    /// Lines appended to `postgresql.conf`.
    pub conf: String,
    /// The whole `pg_hba.conf`.
    pub hba: String,
    /// Files written into the data directory (name, contents), readable by the server only.
    pub files: Vec<(String, String)>,
}

pub struct Cluster {
    dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

/// The directory holding `initdb` and `pg_ctl`: `$PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin`, or the `PATH`.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some(newest) = versions.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

impl Cluster {
    /// Starts a cluster, or returns `None` (after printing why) when PostgreSQL's server
    /// programs are not installed.
    pub fn start(setup: Setup) -> Option<Self> {
        let Some(bin) = find_bin() else {
            eprintln!(
                "SKIPPED: initdb not found (set PG_BIN or install the PostgreSQL server); \
                 this test needs a throwaway PostgreSQL cluster"
            );
            return None;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("bellhop-pg-{}-{nanos:x}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the cluster directory");
        let cluster = Self {
            data: dir.join("data"),
            dir,
            bin,
            as_postgres: is_root(),
            port: free_port(),
        };
        cluster.own(&cluster.dir);
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 40\n",
            cluster.port,
            cluster.dir.display()
        );
        conf.push_str(&setup.conf);
        let conf_path = cluster.data.join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf_path).expect("read postgresql.conf");
        existing.push_str(&conf);
        fs::write(&conf_path, existing).expect("write postgresql.conf");
        fs::write(cluster.data.join("pg_hba.conf"), &setup.hba).expect("write pg_hba.conf");
        for (name, contents) in &setup.files {
            let path = cluster.data.join(name);
            fs::write(&path, contents).expect("write a cluster file");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .expect("restrict a cluster file");
        }
        cluster.own(&cluster.dir);
        let log = cluster.dir.join("server.log");
        let started = cluster.try_run(
            "pg_ctl",
            &[
                "-D",
                &cluster.data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if !started.status.success() {
            panic!(
                "the throwaway PostgreSQL did not start: {}\n{}",
                String::from_utf8_lossy(&started.stderr),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Some(cluster)
    }

    /// `postgres://USER@127.0.0.1:PORT/DATABASE` followed by `query` (e.g. `?sslmode=require`).
    pub fn url(&self, user: &str, database: &str, query: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{database}{query}",
            self.port
        )
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A file outside the data directory, readable by the test (e.g. a CA certificate).
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, contents).expect("write a test file");
        path
    }

    fn own(&self, path: &Path) {
        if self.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(path)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown to postgres failed");
        }
    }

    fn try_run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run a PostgreSQL program")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.try_run(program, args);
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let _ = self.try_run(
                "pg_ctl",
                &[
                    "-D",
                    &self.data.to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
