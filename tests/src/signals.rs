//! A signal whose deliveries are counted, for tests of waits that signals
//! interrupt. A test that installs the handler or blocks the signal runs in
//! a process of its own (`in_own_process`), so that neither reaches the
//! other tests of its binary.

use std::sync::atomic::{AtomicU32, Ordering};

/// The signal the tests send.
pub const SIG: libc::c_int = libc::SIGUSR1;

/// How many times the handler ran.
static HANDLED: AtomicU32 = AtomicU32::new(0);

/// The handler of [`SIG`]: counts, which is async-signal-safe.
extern "C" fn count_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// How many times the handler ran so far.
pub fn handled() -> u32 {
    HANDLED.load(Ordering::SeqCst)
}

/// Installs the counting handler for [`SIG`], without `SA_RESTART`: a
/// system call it interrupts fails with `EINTR`.
pub fn install_handler() {
    // SAFETY: a zeroed sigaction with the handler set and an empty mask;
    // the handler only bumps an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(SIG, &action, std::ptr::null_mut()), 0);
    }
}

/// A signal set holding [`SIG`] alone when `with_sig`, else empty (the
/// mask of a wait that lets every signal in).
pub fn sig_set(with_sig: bool) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset adds a valid
    // signal to it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if with_sig {
            libc::sigaddset(&mut set, SIG);
        }
        set
    }
}

/// Blocks [`SIG`] in the calling thread (outside masked waits).
pub fn block_signal() {
    let set = sig_set(true);
    // SAFETY: a valid signal set; the old mask is not asked for.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
}

/// Sends [`SIG`] to the calling thread, which blocks it: it stays pending.
pub fn raise_pending() {
    // SAFETY: the calling thread is alive and blocks the signal.
    let sent = unsafe { libc::pthread_kill(libc::pthread_self(), SIG) };
    assert_eq!(sent, 0);
}

/// Whether `r` is the `EINTR` of a wait a signal ended.
pub fn is_eintr<T>(r: &uring::Result<T>) -> bool {
    r.as_ref().err().and_then(uring::Error::raw_os_error) == Some(libc::EINTR)
}
