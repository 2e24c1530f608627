//! Power cuts for SQLite: a VFS that keeps every write in memory, as an operating system's page
//! cache does, until the file is synced, and throws away whatever was not synced when the power
//! goes.
//!
//! [`PowerCut::new`] puts one directory on its own simulated machine. Every SQLite database, WAL
//! and journal file opened under that directory (by the engine's store or an in-process server,
//! with no change to their code: the VFS is installed as the process's default and passes every
//! other file straight through to SQLite's own `unix` VFS) is read and written through an image
//! in memory. Only `xSync` copies a file's image to disk and fsyncs it, so the file on disk holds
//! exactly what was synced. [`PowerCut::cut_after`] arms the cut at a chosen write, truncate or
//! sync; from then on every I/O of that machine fails, as a dead disk would, and the unsynced
//! images are gone. Once every connection is closed, [`PowerCut::power_on`] starts the machine
//! again on what the disk holds.
//!
//! What the model keeps honest: data reaches the disk only through a sync, a sync covers all
//! earlier writes of that file (from any connection, as `fsync` does), and nothing after the cut
//! is written. Simplifications, all in the direction real disks are kinder: creating and
//! deleting a file is durable at once, and unsynced writes are all lost (a real disk may keep
//! some of them, which SQLite's WAL checksums are built to handle). The shared-memory WAL index
//! is memory, not data, and passes through: SQLite rebuilds it from the WAL when the first
//! connection opens after the restart, which is why [`PowerCut::power_on`] insists that every
//! connection of the old "boot" is closed.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};

use rusqlite::ffi;

/// One simulated machine: the directory whose SQLite files lose unsynced writes when its power
/// is cut. Dropping it stops the simulation for that directory (files opened afterwards pass
/// straight through).
#[derive(Debug)]
pub struct PowerCut {
    machine: Arc<Machine>,
}

impl PowerCut {
    /// Puts `dir` (which must exist) on a new simulated machine, powered on, installing the VFS
    /// as SQLite's default the first time.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        let dir = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("PowerCut: cannot resolve {}: {e}", dir.display()));
        install();
        let machine = Arc::new(Machine {
            dir,
            state: Mutex::new(MachineState::default()),
        });
        lock(&MACHINES).push(Arc::downgrade(&machine));
        Self { machine }
    }

    /// The directory this machine covers.
    pub fn dir(&self) -> &Path {
        &self.machine.dir
    }

    /// Writes, truncates and syncs of this machine's files since it was last powered on.
    pub fn events(&self) -> u64 {
        self.machine.state().events
    }

    /// Cuts the power just before event number `events` (counted as [`PowerCut::events`]
    /// counts): that write, truncate or sync fails and so does everything after it.
    pub fn cut_after(&self, events: u64) {
        let mut state = self.machine.state();
        if state.events >= events {
            state.cut();
        } else {
            state.cut_at = Some(events);
        }
    }

    /// Cuts the power now.
    pub fn cut_now(&self) {
        self.machine.state().cut();
    }

    /// Whether the power is on.
    pub fn is_on(&self) -> bool {
        self.machine.state().powered
    }

    /// Files of this machine still open (by connections of the current or of a cut "boot").
    pub fn open_files(&self) -> usize {
        self.machine.state().open_files
    }

    /// Waits (up to 10 s) until every file of this machine is closed, e.g. while a server's
    /// blocking threads let go of their connections after it stopped.
    pub async fn wait_closed(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.open_files() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "PowerCut: {} file(s) under {} are still open 10 s after their users stopped",
                self.open_files(),
                self.dir().display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Restarts the machine once its programs have stopped: waits until every file is closed
    /// ([`PowerCut::wait_closed`]), then turns the power back on ([`PowerCut::power_on`]).
    pub async fn restart(&self) {
        self.wait_closed().await;
        self.power_on();
    }

    /// Turns the power back on: files opened from now on start from what their last sync put
    /// on disk. Panics if a connection of the previous boot is still open, because SQLite would
    /// keep using its stale WAL index instead of rebuilding it, which no real restart allows.
    pub fn power_on(&self) {
        let mut state = self.machine.state();
        assert_eq!(
            state.open_files,
            0,
            "PowerCut: close every connection under {} before turning the power on",
            self.machine.dir.display()
        );
        state.images.clear();
        state.powered = true;
        state.events = 0;
        state.cut_at = None;
    }
}

impl Drop for PowerCut {
    fn drop(&mut self) {
        lock(&MACHINES).retain(|m| m.upgrade().is_some_and(|m| !Arc::ptr_eq(&m, &self.machine)));
    }
}

/// The machines whose directories the VFS simulates.
static MACHINES: Mutex<Vec<Weak<Machine>>> = Mutex::new(Vec::new());

/// Locks `mutex`, going on after a panic elsewhere (a failed test assertion must not turn every
/// later file operation into a second panic inside SQLite).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
struct Machine {
    dir: PathBuf,
    state: Mutex<MachineState>,
}

impl Machine {
    fn state(&self) -> MutexGuard<'_, MachineState> {
        lock(&self.state)
    }

    /// The machine covering `path`, if any.
    fn covering(path: &Path) -> Option<Arc<Machine>> {
        lock(&MACHINES)
            .iter()
            .filter_map(Weak::upgrade)
            .find(|m| path.starts_with(&m.dir))
    }
}

#[derive(Debug)]
struct MachineState {
    powered: bool,
    /// Writes, truncates and syncs since power-on.
    events: u64,
    /// The event that cuts the power.
    cut_at: Option<u64>,
    /// The page cache: each open (or closed but unsynced) file's contents as the programs see
    /// them.
    images: HashMap<PathBuf, Image>,
    open_files: usize,
}

impl Default for MachineState {
    fn default() -> Self {
        Self {
            powered: true,
            events: 0,
            cut_at: None,
            images: HashMap::new(),
            open_files: 0,
        }
    }
}

impl MachineState {
    fn cut(&mut self) {
        self.powered = false;
        self.cut_at = None;
        self.images.clear();
    }

    /// Counts one write, truncate or sync; false when the power is (or has just gone) out.
    fn event(&mut self) -> bool {
        if !self.powered {
            return false;
        }
        if self.cut_at == Some(self.events) {
            self.cut();
            return false;
        }
        self.events += 1;
        true
    }
}

/// A file's contents as programs see them, and which byte ranges differ from the disk.
#[derive(Debug, Default)]
struct Image {
    data: Vec<u8>,
    /// The file's length on disk.
    disk_len: u64,
    /// Written ranges not yet synced, as (start, end).
    dirty: Vec<(u64, u64)>,
}

/// The `unix` VFS everything is passed to.
struct Base(*mut ffi::sqlite3_vfs);

// SAFETY: the base VFS is a static structure of SQLite's, read-only after registration.
unsafe impl Send for Base {}
unsafe impl Sync for Base {}

static BASE: Mutex<Option<Base>> = Mutex::new(None);
static INSTALL: Once = Once::new();

fn base() -> *mut ffi::sqlite3_vfs {
    lock(&BASE).as_ref().map_or(ptr::null_mut(), |b| b.0)
}

/// The name the VFS registers under.
const VFS_NAME: &CStr = c"tidemark-power-cut";

/// Registers the VFS as SQLite's default, once per process.
fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sqlite3_vfs_find and sqlite3_vfs_register are thread-safe; the structure
        // handed to SQLite is leaked, so it lives as long as the process.
        unsafe {
            let unix = ffi::sqlite3_vfs_find(c"unix".as_ptr());
            assert!(!unix.is_null(), "PowerCut: SQLite has no unix VFS");
            *lock(&BASE) = Some(Base(unix));
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                iVersion: 2,
                szOsFile: (file_header_size() + (*unix).szOsFile as usize) as c_int,
                mxPathname: (*unix).mxPathname,
                pNext: ptr::null_mut(),
                zName: VFS_NAME.as_ptr(),
                pAppData: ptr::null_mut(),
                xOpen: Some(vfs_open),
                xDelete: Some(vfs_delete),
                xAccess: Some(vfs_access),
                xFullPathname: Some(vfs_full_pathname),
                xDlOpen: Some(vfs_dl_open),
                xDlError: Some(vfs_dl_error),
                xDlSym: Some(vfs_dl_sym),
                xDlClose: Some(vfs_dl_close),
                xRandomness: Some(vfs_randomness),
                xSleep: Some(vfs_sleep),
                xCurrentTime: Some(vfs_current_time),
                xGetLastError: Some(vfs_get_last_error),
                xCurrentTimeInt64: Some(vfs_current_time_int64),
                xSetSystemCall: None,
                xGetSystemCall: None,
                xNextSystemCall: None,
            }));
            let rc = ffi::sqlite3_vfs_register(vfs, 1);
            assert_eq!(rc, ffi::SQLITE_OK, "PowerCut: cannot register the VFS");
        }
    });
}

/// A simulated file: SQLite's handle, then the base VFS's handle of the same file (for locks,
/// the WAL index and the syncs that reach the disk) in the bytes after it.
#[repr(C)]
struct SimFile {
    /// Must come first: SQLite reads the methods from here.
    header: ffi::sqlite3_file,
    /// Raw `Arc<Machine>`, released on close.
    machine: *const Machine,
    /// Raw `Box<PathBuf>`, released on close.
    path: *mut PathBuf,
    /// The base VFS's handle, in this allocation.
    real: *mut ffi::sqlite3_file,
}

/// Where the base handle starts in a [`SimFile`] allocation (8-byte aligned).
const fn file_header_size() -> usize {
    std::mem::size_of::<SimFile>().div_ceil(8) * 8
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(file_close),
    xRead: Some(file_read),
    xWrite: Some(file_write),
    xTruncate: Some(file_truncate),
    xSync: Some(file_sync),
    xFileSize: Some(file_size),
    xLock: Some(file_lock),
    xUnlock: Some(file_unlock),
    xCheckReservedLock: Some(file_check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(file_sector_size),
    xDeviceCharacteristics: Some(file_device_characteristics),
    xShmMap: Some(file_shm_map),
    xShmLock: Some(file_shm_lock),
    xShmBarrier: Some(file_shm_barrier),
    xShmUnmap: Some(file_shm_unmap),
    xFetch: Some(file_fetch),
    xUnfetch: Some(file_unfetch),
};

/// The file types whose contents are data (the rest, temporary files, pass through).
const SIMULATED_KINDS: c_int =
    ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_JOURNAL;

unsafe extern "C" fn vfs_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = base();
    // SAFETY: SQLite passes a file buffer of szOsFile bytes and a NUL-terminated name (or null
    // for a temporary file); the base VFS is valid for the process's life.
    unsafe {
        let path = (!name.is_null() && flags & SIMULATED_KINDS != 0)
            .then(|| PathBuf::from(CStr::from_ptr(name).to_string_lossy().into_owned()));
        let machine = path.as_deref().and_then(Machine::covering);
        let (Some(path), Some(machine)) = (path, machine) else {
            // Not ours: the base handle takes the whole buffer, methods and all.
            return ((*base).xOpen.expect("unix xOpen"))(base, name, file, flags, out_flags);
        };
        let sim = file.cast::<SimFile>();
        (*sim).header.pMethods = ptr::null();
        let real = file
            .cast::<u8>()
            .add(file_header_size())
            .cast::<ffi::sqlite3_file>();
        {
            let state = machine.state();
            if !state.powered {
                return ffi::SQLITE_CANTOPEN;
            }
        }
        let rc = ((*base).xOpen.expect("unix xOpen"))(base, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let mut state = machine.state();
        if !state.images.contains_key(&path) {
            match load_image(real) {
                Ok(image) => {
                    state.images.insert(path.clone(), image);
                }
                Err(rc) => {
                    drop(state);
                    close_real(real);
                    return rc;
                }
            }
        }
        state.open_files += 1;
        drop(state);
        sim.write(SimFile {
            header: ffi::sqlite3_file { pMethods: &METHODS },
            machine: Arc::into_raw(machine),
            path: Box::into_raw(Box::new(path)),
            real,
        });
        ffi::SQLITE_OK
    }
}

/// Reads a file's disk contents into a fresh image.
///
/// # Safety
/// `real` is an open base handle.
unsafe fn load_image(real: *mut ffi::sqlite3_file) -> Result<Image, c_int> {
    // SAFETY: per the contract, `real` is open; the buffer is as long as the read.
    unsafe {
        let methods = &*(*real).pMethods;
        let mut size: ffi::sqlite3_int64 = 0;
        let rc = (methods.xFileSize.expect("unix xFileSize"))(real, &mut size);
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
        let mut data = vec![0u8; size as usize];
        if size > 0 {
            let rc = (methods.xRead.expect("unix xRead"))(
                real,
                data.as_mut_ptr().cast(),
                size as c_int,
                0,
            );
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
        }
        Ok(Image {
            data,
            disk_len: size as u64,
            dirty: Vec::new(),
        })
    }
}

/// Closes a base handle.
///
/// # Safety
/// `real` is an open base handle, not used afterwards.
unsafe fn close_real(real: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: per the contract.
    unsafe {
        let methods = (*real).pMethods;
        if methods.is_null() {
            return ffi::SQLITE_OK;
        }
        ((*methods).xClose.expect("unix xClose"))(real)
    }
}

/// The simulated file behind SQLite's handle, with its machine's state locked.
///
/// # Safety
/// `file` was opened by [`vfs_open`] as a simulated file and is not closed.
unsafe fn sim<'a>(file: *mut ffi::sqlite3_file) -> (&'a SimFile, MutexGuard<'a, MachineState>) {
    // SAFETY: per the contract, the SimFile and its machine are alive until xClose.
    unsafe {
        let sim = &*file.cast::<SimFile>();
        let state = (*sim.machine).state();
        (sim, state)
    }
}

unsafe extern "C" fn file_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each handle once; the raw parts are released here only.
    unsafe {
        let sim = &mut *file.cast::<SimFile>();
        let rc = close_real(sim.real);
        let machine = Arc::from_raw(sim.machine);
        drop(Box::from_raw(sim.path));
        machine.state().open_files -= 1;
        sim.header.pMethods = ptr::null();
        rc
    }
}

unsafe extern "C" fn file_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes a buffer of `amount` bytes.
    unsafe {
        let (sim, state) = sim(file);
        let Some(image) = state.images.get(&*sim.path).filter(|_| state.powered) else {
            return ffi::SQLITE_IOERR_READ;
        };
        let out = std::slice::from_raw_parts_mut(buf.cast::<u8>(), amount as usize);
        let start = (offset as usize).min(image.data.len());
        let end = (offset as usize + out.len()).min(image.data.len());
        let got = end - start;
        out[..got].copy_from_slice(&image.data[start..end]);
        if got < out.len() {
            // SQLite requires the unread part zeroed on a short read.
            out[got..].fill(0);
            return ffi::SQLITE_IOERR_SHORT_READ;
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn file_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes a buffer of `amount` bytes.
    unsafe {
        let (sim, mut state) = sim(file);
        if !state.event() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let Some(image) = state.images.get_mut(&*sim.path) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), amount as usize);
        let start = offset as usize;
        let end = start + bytes.len();
        if image.data.len() < end {
            image.data.resize(end, 0);
        }
        image.data[start..end].copy_from_slice(bytes);
        image.dirty.push((start as u64, end as u64));
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn file_truncate(
    file: *mut ffi::sqlite3_file,
    size: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `file` is a live simulated file.
    unsafe {
        let (sim, mut state) = sim(file);
        if !state.event() {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        let Some(image) = state.images.get_mut(&*sim.path) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        let size = size as usize;
        if image.data.len() > size {
            image.data.truncate(size);
        } else {
            image.data.resize(size, 0);
            // The new zeros must reach the disk too if the file grew.
            image
                .dirty
                .push((image.disk_len.min(size as u64), size as u64));
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn file_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: `file` is a live simulated file; `real` is its open base handle.
    unsafe {
        let (sim, mut state) = sim(file);
        if !state.event() {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let Some(image) = state.images.get_mut(&*sim.path) else {
            return ffi::SQLITE_IOERR_FSYNC;
        };
        let real = sim.real;
        let methods = &*(*real).pMethods;
        let len = image.data.len() as u64;
        if image.disk_len != len {
            let rc = (methods.xTruncate.expect("unix xTruncate"))(real, len as i64);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            image.disk_len = len;
        }
        let mut dirty = std::mem::take(&mut image.dirty);
        dirty.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(dirty.len());
        for (start, end) in dirty {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        for (start, end) in merged {
            let end = end.min(len);
            if start >= end {
                continue;
            }
            let chunk = &image.data[start as usize..end as usize];
            let rc = (methods.xWrite.expect("unix xWrite"))(
                real,
                chunk.as_ptr().cast(),
                chunk.len() as c_int,
                start as i64,
            );
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        (methods.xSync.expect("unix xSync"))(real, flags)
    }
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes a valid out pointer.
    unsafe {
        let (sim, state) = sim(file);
        let Some(image) = state.images.get(&*sim.path).filter(|_| state.powered) else {
            return ffi::SQLITE_IOERR_FSTAT;
        };
        *size = image.data.len() as i64;
        ffi::SQLITE_OK
    }
}

/// The base handle of a simulated file.
///
/// # Safety
/// `file` is a live simulated file.
unsafe fn real(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: per the contract; the base methods are static.
    unsafe {
        let real = (*file.cast::<SimFile>()).real;
        (real, &*(*real).pMethods)
    }
}

unsafe extern "C" fn file_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xLock.expect("unix xLock"))(real, level)
    }
}

unsafe extern "C" fn file_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xUnlock.expect("unix xUnlock"))(real, level)
    }
}

unsafe extern "C" fn file_check_reserved_lock(
    file: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xCheckReservedLock.expect("unix xCheckReservedLock"))(real, out)
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // A size hint would grow the file on disk behind the image's back; SQLite treats
    // NOTFOUND as "no such control" and goes on.
    if op == ffi::SQLITE_FCNTL_SIZE_HINT || op == ffi::SQLITE_FCNTL_CHUNK_SIZE {
        return ffi::SQLITE_NOTFOUND;
    }
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xFileControl.expect("unix xFileControl"))(real, op, arg)
    }
}

unsafe extern "C" fn file_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xSectorSize.expect("unix xSectorSize"))(real)
    }
}

unsafe extern "C" fn file_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xDeviceCharacteristics
            .expect("unix xDeviceCharacteristics"))(real)
    }
}

unsafe extern "C" fn file_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: delegation to the open base handle (the WAL index is memory, not data).
    unsafe {
        let (real, m) = real(file);
        (m.xShmMap.expect("unix xShmMap"))(real, region, size, extend, out)
    }
}

unsafe extern "C" fn file_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xShmLock.expect("unix xShmLock"))(real, offset, n, flags)
    }
}

unsafe extern "C" fn file_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xShmBarrier.expect("unix xShmBarrier"))(real)
    }
}

unsafe extern "C" fn file_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: delegation to the open base handle.
    unsafe {
        let (real, m) = real(file);
        (m.xShmUnmap.expect("unix xShmUnmap"))(real, delete)
    }
}

unsafe extern "C" fn file_fetch(
    _file: *mut ffi::sqlite3_file,
    _offset: ffi::sqlite3_int64,
    _amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // No memory map: a mapping would show the disk, not the image; SQLite reads instead.
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *out = ptr::null_mut() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_unfetch(
    _file: *mut ffi::sqlite3_file,
    _offset: ffi::sqlite3_int64,
    _page: *mut c_void,
) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn vfs_delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    let base = base();
    // SAFETY: SQLite passes a NUL-terminated name; the base VFS is valid.
    unsafe {
        let path = PathBuf::from(CStr::from_ptr(name).to_string_lossy().into_owned());
        if let Some(machine) = Machine::covering(&path) {
            let mut state = machine.state();
            if !state.powered {
                return ffi::SQLITE_IOERR_DELETE;
            }
            state.images.remove(&path);
        }
        ((*base).xDelete.expect("unix xDelete"))(base, name, sync_dir)
    }
}

unsafe extern "C" fn vfs_access(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xAccess.expect("unix xAccess"))(base, name, flags, out) }
}

unsafe extern "C" fn vfs_full_pathname(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xFullPathname.expect("unix xFullPathname"))(base, name, n, out) }
}

unsafe extern "C" fn vfs_dl_open(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xDlOpen.expect("unix xDlOpen"))(base, name) }
}

unsafe extern "C" fn vfs_dl_error(_vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xDlError.expect("unix xDlError"))(base, n, out) }
}

type DlSym = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn vfs_dl_sym(
    _vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> DlSym {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xDlSym.expect("unix xDlSym"))(base, handle, symbol) }
}

unsafe extern "C" fn vfs_dl_close(_vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xDlClose.expect("unix xDlClose"))(base, handle) }
}

unsafe extern "C" fn vfs_randomness(
    _vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xRandomness.expect("unix xRandomness"))(base, n, out) }
}

unsafe extern "C" fn vfs_sleep(_vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xSleep.expect("unix xSleep"))(base, micros) }
}

unsafe extern "C" fn vfs_current_time(_vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xCurrentTime.expect("unix xCurrentTime"))(base, out) }
}

unsafe extern "C" fn vfs_get_last_error(
    _vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xGetLastError.expect("unix xGetLastError"))(base, n, out) }
}

unsafe extern "C" fn vfs_current_time_int64(
    _vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    let base = base();
    // SAFETY: delegation to the base VFS.
    unsafe { ((*base).xCurrentTimeInt64.expect("unix xCurrentTimeInt64"))(base, out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(path: &Path, synchronous: &str) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        conn.pragma_update(None, "synchronous", synchronous)
            .unwrap();
        conn
    }

    /// The rows of `t`, none when the table itself did not survive.
    fn rows(path: &Path) -> Vec<i64> {
        let conn = Connection::open(path).unwrap();
        let Ok(mut stmt) = conn.prepare("SELECT n FROM t ORDER BY n") else {
            return Vec::new();
        };
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Commits 1..=10 one per transaction, cuts the power, and returns what the restart finds.
    fn survivors(synchronous: &str) -> Vec<i64> {
        let dir = tempfile::tempdir().unwrap();
        let power = PowerCut::new(dir.path());
        let path = power.dir().join("db.sqlite");
        let conn = open(&path, synchronous);
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        for n in 1..=10 {
            conn.execute("INSERT INTO t VALUES (?1)", [n]).unwrap();
        }
        power.cut_now();
        // Closing cannot checkpoint any more: the disk is gone.
        drop(conn);
        assert_eq!(power.open_files(), 0);
        power.power_on();
        rows(&path)
    }

    #[test]
    fn synced_commits_survive_and_unsynced_ones_are_lost() {
        assert_eq!(survivors("FULL"), (1..=10).collect::<Vec<_>>());
        // NORMAL syncs the WAL only at checkpoints: none ran, so even the table is gone.
        assert_eq!(survivors("NORMAL"), Vec::<i64>::new());
    }

    #[test]
    fn every_write_after_the_cut_fails_and_the_disk_keeps_the_last_sync() {
        let dir = tempfile::tempdir().unwrap();
        let power = PowerCut::new(dir.path());
        let path = power.dir().join("db.sqlite");
        let conn = open(&path, "FULL");
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        power.cut_after(power.events() + 1);
        assert!(conn.execute("INSERT INTO t VALUES (2)", []).is_err());
        assert!(!power.is_on());
        assert!(conn.execute("INSERT INTO t VALUES (3)", []).is_err());
        drop(conn);
        power.power_on();
        assert_eq!(rows(&path), vec![1]);
    }

    #[test]
    fn files_outside_the_directory_pass_through() {
        let covered = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let power = PowerCut::new(covered.path());
        let path = other.path().join("db.sqlite");
        let conn = open(&path, "NORMAL");
        conn.execute_batch("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        power.cut_now();
        conn.execute("INSERT INTO t VALUES (8)", []).unwrap();
        assert_eq!(power.open_files(), 0);
        drop(conn);
        assert_eq!(rows(&path), vec![7, 8]);
    }
}
