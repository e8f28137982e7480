//! Runs `llb-gen` as a shared build server has to bear any spec: in at most 512 MiB of address
//! space (`ulimit -v`) and within a time limit. A run over either fails: a failed allocation
//! aborts (a signal, not exit code 1) and a run over time is killed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The address space a run gets, in KiB: what any spec under the size limit may cost at most.
pub const MEMORY_KIB: u64 = 512 << 10;
/// The time a run may take: 2 s in a release build; a debug build runs some times slower.
pub const TIME_LIMIT: Duration = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 });

/// A run that ended in time.
pub struct Run {
    pub status: ExitStatus,
    pub stderr: String,
    pub elapsed: Duration,
}

/// `llb-gen args…` in `dir` under the caps, its output dropped; an error when it ran over
/// time, and was killed.
pub fn llb_gen(dir: &Path, args: &[String]) -> Result<Run, String> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_llb-gen"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs: a full pipe would stop it.
    let stderr = read_all(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIME_LIMIT:?}"));
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok(Run {
        status,
        stderr: stderr.join().unwrap(),
        elapsed: started.elapsed(),
    })
}

fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
