//! What the kernel says about a process: resident memory from `/proc/PID/status`,
//! CPU time from `/proc/PID/stat` — for the server under test and for the
//! generator itself, so every report shows whether the generator was the
//! bottleneck. Also raises the open-files limit, which bounds how many
//! connections one process can hold.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde::Serialize;

/// Which process to read: this one or another by pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The generator itself (`/proc/self`).
    This,
    /// Another process.
    Pid(u32),
}

impl Process {
    fn path(&self, file: &str) -> String {
        match self {
            Process::This => format!("/proc/self/{file}"),
            Process::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }

    /// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in bytes.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = self.path("status");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_status(&text).with_context(|| format!("parsing {path}"))
    }

    /// CPU time used so far (user + system), and when it was read.
    pub fn cpu(&self) -> anyhow::Result<CpuSample> {
        let path = self.path("stat");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let ticks = parse_stat_ticks(&text).with_context(|| format!("parsing {path}"))?;
        Ok(CpuSample {
            cpu: ticks_to_duration(ticks, clock_ticks_per_second()),
            at: Instant::now(),
        })
    }
}

/// Resident memory in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// `VmRSS`.
    pub rss_bytes: u64,
    /// `VmHWM`: the peak resident set.
    pub peak_bytes: u64,
}

/// CPU time consumed by a process up to a moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    cpu: Duration,
    at: Instant,
}

impl CpuSample {
    /// CPU use between `earlier` and `self`, in percent of one core (200 = two
    /// cores busy).
    pub fn percent_since(&self, earlier: &CpuSample) -> f64 {
        let wall = self.at.saturating_duration_since(earlier.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        self.cpu.saturating_sub(earlier.cpu).as_secs_f64() / wall * 100.0
    }
}

/// Reads `VmRSS` and `VmHWM` (kB) from the text of `/proc/PID/status`.
fn parse_status(text: &str) -> anyhow::Result<Memory> {
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .ok_or_else(|| anyhow!("no {name} line"))?;
        let kib = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .with_context(|| format!("{name} is not a number of kB"))?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss_bytes: field("VmRSS:")?,
        peak_bytes: field("VmHWM:")?,
    })
}

/// `utime + stime` in clock ticks from the text of `/proc/PID/stat`.
fn parse_stat_ticks(text: &str) -> anyhow::Result<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or ')':
    // count fields from after the last ')'. Then state is field 3, utime 14, stime 15.
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| anyhow!("no command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |index: usize, name: &str| -> anyhow::Result<u64> {
        fields
            .get(index)
            .ok_or_else(|| anyhow!("no {name} field"))?
            .parse::<u64>()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok(number(11, "utime")? + number(12, "stime")?)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

// The one place (with the next) the workspace allows unsafe code: libc calls.
#[allow(unsafe_code)]
fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
#[allow(unsafe_code)]
pub fn raise_open_files_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Ok(limit.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_rss_and_peak_in_bytes() {
        let text = "Name:\tvigor\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t4\n";
        let memory = parse_status(text).unwrap();
        assert_eq!(memory.rss_bytes, 1024 * 1024);
        assert_eq!(memory.peak_bytes, 2048 * 1024);
        assert!(parse_status("Name:\tx\n").is_err());
        assert!(parse_status("VmRSS:\tmany kB\nVmHWM:\t1 kB\n").is_err());
    }

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with spaces and a parenthesis must not shift the fields.
        let text = "4242 (we ird) name) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 9 0 100 200 300";
        assert_eq!(parse_stat_ticks(text).unwrap(), 200);
        assert!(parse_stat_ticks("4242 (x) S 1 2").is_err());
    }

    #[test]
    fn ticks_become_durations_and_percentages() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
        let start = Instant::now();
        let earlier = CpuSample {
            cpu: Duration::from_secs(1),
            at: start,
        };
        let later = CpuSample {
            cpu: Duration::from_secs(4),
            at: start + Duration::from_secs(2),
        };
        assert_eq!(later.percent_since(&earlier), 150.0);
        assert_eq!(earlier.percent_since(&earlier), 0.0);
    }

    #[test]
    fn this_process_can_be_read() {
        let memory = Process::This.memory().unwrap();
        assert!(memory.rss_bytes > 0 && memory.peak_bytes >= memory.rss_bytes);
        Process::This.cpu().unwrap();
        assert!(raise_open_files_limit().unwrap() > 0);
    }
}
