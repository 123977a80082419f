//! A private tansu broker on a free port, for tests that stop and restart Kafka.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tansu binary: `TANSU_BIN`, else `$HOME/.cache/activity-pipeline/bin/tansu`, else `tansu`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return p.into();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".cache/activity-pipeline/bin/tansu");
        if p.exists() {
            return p;
        }
    }
    "tansu".into()
}

/// A broker with its own SQLite data directory. Killed when dropped.
pub struct Tansu {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    /// Starts a broker on a free loopback port.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut t = Self {
            dir: tempfile::tempdir().expect("tempdir"),
            port,
            child: None,
        };
        t.restart();
        t
    }

    /// `127.0.0.1:PORT`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker at once (no clean shutdown), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and data, waiting until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        std::fs::write(self.dir.path().join(".env"), "").expect("write .env");
        // Appended, so a restart keeps what the broker said before it.
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("broker.log"))
            .expect("log");
        let child = Command::new(binary())
            .current_dir(self.dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("start tansu ({}): {e}", binary().display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
