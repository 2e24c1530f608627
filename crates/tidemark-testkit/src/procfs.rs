//! What a child process costs, read from `/proc/<pid>`: resident memory, CPU time and open
//! database handles, for tests that bound what an attack may make the server spend.

use std::path::Path;

/// A field of `/proc/<pid>/status` in KiB (`VmHWM` for the peak resident set, `VmRSS` for the
/// current one); panics when the process or the field is missing (a test fixture).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("status of {pid}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The CPU time the process has used, user and system, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("stat of {pid}: {e}"));
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `state` is field 3 of the file and fields[0] here; utime and stime are 14 and 15.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tick(11) + tick(12)
}

/// How many of the process's open files are the file at `path` (e.g. its database connections).
pub fn open_handles(pid: u32, path: &Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|target| target == path))
                .count()
        })
        .unwrap_or(0)
}
