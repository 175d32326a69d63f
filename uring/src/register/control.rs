//! The ring's other registrations: io-wq workers, personalities,
//! restrictions, synchronous cancellation, eventfds, and completions
//! posted from no ring.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::op::Entry;
use crate::ring::Ring;
use crate::sys;
use crate::types::{Clock, Deadline, IntoTarget, Target, Timespec};
use std::marker::PhantomData;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// A registered personality: the credentials of the task that registered
/// it, which an op can run with (`.personality(p)`) whatever the submitting
/// task's credentials are then.
///
/// The kernel hands an id out again once it was unregistered: a handle of
/// an earlier registration is told from a later one of the same id (they
/// compare unequal, and unregistering it fails), but an op pushed with it
/// runs with whatever registration holds the id then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Personality {
    id: u16,
    ring: u32,
    /// The ring's registration count when it was registered.
    registration: u32,
}

impl Personality {
    /// The id the kernel gave it.
    pub const fn id(self) -> u16 {
        self.id
    }
}

/// One rule of a ring's restrictions (`struct io_uring_restriction`),
/// registered on a ring created disabled, before [`Ring::enable`].
#[derive(Clone, Copy)]
pub struct Restriction(sys::io_uring_restriction);

impl Restriction {
    fn new(opcode: u16, arg: u8) -> Restriction {
        Restriction(sys::io_uring_restriction {
            opcode,
            arg: sys::io_uring_restriction_arg { sqe_op: arg },
            resv: 0,
            resv2: [0; 3],
        })
    }

    /// Allows the op `E`.
    pub fn op<E: Entry>() -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_OP, E::CODE)
    }

    /// Allows the opcode `code`.
    pub fn opcode(code: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_OP, code)
    }

    /// Allows the `io_uring_register(2)` opcode `opcode`
    /// (`sys::IORING_REGISTER_*`).
    pub fn register_op(opcode: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_REGISTER_OP, opcode)
    }

    /// Allows SQEs to carry the `IOSQE_*` bits of `flags`.
    pub fn sqe_flags_allowed(flags: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED, flags)
    }

    /// Requires every SQE to carry the `IOSQE_*` bits of `flags`.
    pub fn sqe_flags_required(flags: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED, flags)
    }
}

/// The SQE rules of a ring's restrictions, as registered through it
/// (`IORING_RESTRICTION_SQE_*`): what the kernel refuses with `EACCES`
/// once the ring is enabled, so that the ring's own requests (a scope's or
/// a reactor's cancels) can be refused up front rather than fail unseen.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SqeRules {
    /// The opcodes allowed, one bit each.
    ops: [u64; 4],
    allowed: u8,
    required: u8,
}

impl SqeRules {
    /// The SQE rules among `rules`, if any. (Without any, Linux 6.18
    /// refuses every SQE and later kernels none; neither is assumed.)
    fn of(rules: &[Restriction]) -> Option<SqeRules> {
        let mut sqe = SqeRules::default();
        let mut any = false;
        for rule in rules {
            // SAFETY: every member of the union is a `u8`.
            let arg = unsafe { rule.0.arg.sqe_op };
            match rule.0.opcode {
                sys::IORING_RESTRICTION_SQE_OP => {
                    sqe.ops[usize::from(arg / 64)] |= 1 << (arg % 64);
                }
                // Each of these replaces the value of an earlier rule, as
                // the kernel parses them.
                sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED => sqe.allowed = arg,
                sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED => sqe.required = arg,
                _ => continue,
            }
            any = true;
        }
        any.then_some(sqe)
    }

    /// Whether the kernel refuses an SQE of `opcode` carrying `flags`, as
    /// `io_check_restriction` decides.
    pub(crate) fn refuses(&self, opcode: u8, flags: u8) -> bool {
        self.ops[usize::from(opcode / 64)] & (1 << (opcode % 64)) == 0
            || flags & self.required != self.required
            || self.refuses_flags(flags)
    }

    /// Whether the kernel refuses every SQE that carries `flags`: a flag
    /// neither allowed nor required.
    pub(crate) fn refuses_flags(&self, flags: u8) -> bool {
        flags & !(self.allowed | self.required) != 0
    }
}

impl std::fmt::Debug for Restriction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: every member of the union is a `u8`.
        let arg = unsafe { self.0.arg.sqe_op };
        f.debug_struct("Restriction")
            .field("opcode", &self.0.opcode)
            .field("arg", &arg)
            .finish()
    }
}

/// What [`Ring::cancel_sync`] cancels: requests matching one or more keys
/// (their `user_data`, their file, their opcode) or any request, the first
/// or all of them.
///
/// The keys combine, each narrowing what the others match:
/// `SyncCancel::fd(&file).and_op::<Read>()` matches the reads on `file`,
/// and `.and_user_data(7)` then only those that carry 7. Matching by opcode
/// or by a `user_data` beside another key takes Linux 6.6
/// (`IORING_ASYNC_CANCEL_OP`, `IORING_ASYNC_CANCEL_USERDATA`); older
/// kernels refuse the request with `EINVAL`. A key given twice keeps the
/// last value.
///
/// A key made from a descriptor or a `Fixed` file borrows it for as long as
/// the key lives (`'a`): it cannot outlive the file, whose number or slot
/// could name another file by then.
///
/// [`any`](SyncCancel::any) matches every request, whatever else the
/// request names (the kernel ignores the other keys beside it), so a key
/// added to it replaces it: `SyncCancel::any().and_fd(&file)` is
/// `SyncCancel::fd(&file)`.
///
/// ```no_run
/// use uring::{Ring, SyncCancel, ops::Read};
/// # fn main() -> uring::Result<()> {
/// # let mut ring = Ring::new(8)?;
/// # let file = std::fs::File::open("/dev/zero").unwrap();
/// // Every read on `file` that carries the user data 7.
/// let what = SyncCancel::fd(&file).and_op::<Read>().and_user_data(7).all();
/// ring.cancel_sync(what, None)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SyncCancel<'a> {
    addr: u64,
    fd: i32,
    flags: u32,
    opcode: u8,
    /// The ring a fixed file to match belongs to; 0 for none.
    ring: u32,
    /// The descriptor or registered file a descriptor key names, borrowed
    /// for as long as the key lives: a key cannot name a number that
    /// another file took since.
    _target: PhantomData<&'a ()>,
}

/// The keys other than `user_data` (`any` aside).
const OTHER_KEYS: u32 = sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_OP;

impl<'a> SyncCancel<'a> {
    /// The `user_data` it matches, if it matches by `user_data` (alone, or
    /// beside a descriptor or opcode key; not with "any"), and whether it
    /// cancels every request that matches.
    pub(crate) fn by_user_data(&self) -> Option<(u64, bool)> {
        self.has_user_data_key()
            .then_some((self.addr, self.flags & sys::IORING_ASYNC_CANCEL_ALL != 0))
    }

    /// Whether a descriptor or opcode key narrows what it matches (beside
    /// its `user_data`, if it has one).
    pub(crate) fn narrows_user_data(&self) -> bool {
        self.flags & OTHER_KEYS != 0
    }

    /// Whether the kernel compares the requests' `user_data` with `addr`:
    /// without a descriptor or opcode key, or with
    /// `IORING_ASYNC_CANCEL_USERDATA` beside one; never with "any".
    fn has_user_data_key(&self) -> bool {
        self.flags & sys::IORING_ASYNC_CANCEL_ANY == 0
            && (self.flags & OTHER_KEYS == 0 || self.flags & sys::IORING_ASYNC_CANCEL_USERDATA != 0)
    }

    /// The same keys with `user_data` in place of the one it matches (which
    /// it must match: [`by_user_data`](SyncCancel::by_user_data) is
    /// `Some`), for the first request alone: how a scope names one of its
    /// tagged ops.
    pub(crate) fn with_tag(self, user_data: u64) -> SyncCancel<'a> {
        debug_assert!(self.has_user_data_key());
        SyncCancel {
            addr: user_data,
            flags: self.flags & !sys::IORING_ASYNC_CANCEL_ALL,
            ..self
        }
    }

    /// Keys of `flags`, with `user_data` `addr` and opcode `opcode`, and no
    /// file.
    fn keys(addr: u64, flags: u32, opcode: u8) -> SyncCancel<'a> {
        SyncCancel {
            addr,
            fd: -1,
            flags,
            opcode,
            ring: 0,
            _target: PhantomData,
        }
    }

    /// The request with this `user_data`.
    pub fn user_data(user_data: u64) -> SyncCancel<'a> {
        SyncCancel::keys(user_data, 0, 0)
    }

    /// Requests on this file (a borrowed descriptor or a `Fixed` file).
    pub fn fd<T: IntoTarget>(target: T) -> SyncCancel<'a>
    where
        T::Target: 'a,
    {
        SyncCancel::keys(0, sys::IORING_ASYNC_CANCEL_FD, 0).with_fd(target)
    }

    /// Requests of the op `E` (6.6).
    pub fn op<E: Entry>() -> SyncCancel<'a> {
        SyncCancel::keys(0, sys::IORING_ASYNC_CANCEL_OP, E::CODE)
    }

    /// Every request of the ring.
    pub fn any() -> SyncCancel<'a> {
        SyncCancel::keys(0, sys::IORING_ASYNC_CANCEL_ANY, 0)
    }

    /// All the requests that match, not only the first.
    pub fn all(mut self) -> SyncCancel<'a> {
        self.flags |= sys::IORING_ASYNC_CANCEL_ALL;
        self
    }

    /// Only the requests that are also on this file (a borrowed descriptor
    /// or a `Fixed` file): `SyncCancel::op::<Read>().and_fd(&file)`,
    /// `SyncCancel::user_data(7).and_fd(&file)` (6.6).
    pub fn and_fd<T: IntoTarget>(self, target: T) -> SyncCancel<'a>
    where
        T::Target: 'a,
    {
        self.narrowed(sys::IORING_ASYNC_CANCEL_FD).with_fd(target)
    }

    /// Only the requests that are also of the op `E`:
    /// `SyncCancel::fd(&file).and_op::<Read>()`,
    /// `SyncCancel::user_data(7).and_op::<Read>()` (6.6).
    pub fn and_op<E: Entry>(self) -> SyncCancel<'a> {
        SyncCancel {
            opcode: E::CODE,
            ..self.narrowed(sys::IORING_ASYNC_CANCEL_OP)
        }
    }

    /// Only the requests that also carry this `user_data`:
    /// `SyncCancel::fd(&file).and_user_data(7)`,
    /// `SyncCancel::op::<Read>().and_user_data(7)` (6.6).
    ///
    /// In a [`Scope`](crate::Scope), it names the scope's ops pushed with
    /// that value, as [`SyncCancel::user_data`] does (see
    /// [`Scope::cancel_sync`](crate::Scope::cancel_sync)).
    pub fn and_user_data(self, user_data: u64) -> SyncCancel<'a> {
        let mut keys = self.narrowed(0);
        if keys.flags & OTHER_KEYS != 0 {
            keys.flags |= sys::IORING_ASYNC_CANCEL_USERDATA;
        }
        SyncCancel {
            addr: user_data,
            ..keys
        }
    }

    /// These keys, with `key` (`IORING_ASYNC_CANCEL_FD` or `_OP`, or 0 for
    /// none) among them and "any" dropped: a `user_data` matched alone so
    /// far is then matched beside the other key, as the kernel must be told
    /// (`IORING_ASYNC_CANCEL_USERDATA`).
    fn narrowed(mut self, key: u32) -> SyncCancel<'a> {
        if key != 0 && self.flags & OTHER_KEYS == 0 && self.has_user_data_key() {
            self.flags |= sys::IORING_ASYNC_CANCEL_USERDATA;
        }
        self.flags &= !sys::IORING_ASYNC_CANCEL_ANY;
        self.flags |= key;
        self
    }

    /// These keys, matching requests on `target`.
    fn with_fd<T: IntoTarget>(self, target: T) -> SyncCancel<'a>
    where
        T::Target: 'a,
    {
        let target = target.into_target();
        let fixed = if is_fixed(&target) {
            sys::IORING_ASYNC_CANCEL_FD_FIXED
        } else {
            0
        };
        SyncCancel {
            fd: target.raw(),
            flags: (self.flags & !sys::IORING_ASYNC_CANCEL_FD_FIXED)
                | sys::IORING_ASYNC_CANCEL_FD
                | fixed,
            ring: target.ring(),
            ..self
        }
    }
}

/// The error of a synchronous cancel that matched no request: the
/// kernel's `ENOENT`, named for what it means here.
pub(crate) fn no_request_matched() -> Error {
    Error::os(
        "IORING_REGISTER_SYNC_CANCEL (no request matched)",
        std::io::Error::from_raw_os_error(libc::ENOENT),
    )
}

fn is_fixed<T: Target>(_: &T) -> bool {
    T::FIXED
}

/// The io-wq worker limits, per kind of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoWqWorkers {
    /// Workers for bounded work (regular files, block devices).
    pub bounded: u32,
    /// Workers for unbounded work (sockets, pipes, ...).
    pub unbounded: u32,
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Sets the most io-wq workers per kind of work
    /// (`IORING_REGISTER_IOWQ_MAX_WORKERS`, 5.15); a 0 leaves that limit as
    /// it is. Returns the limits that were in force before in the calling
    /// thread's worker pool (on an SQPOLL ring, the SQ thread's).
    ///
    /// Worker pools are threads', not rings': a thread makes its pool when
    /// it first creates a ring or submits to one, and the pool serves every
    /// ring the thread submits to. The limits go to the calling thread's
    /// pool (on an SQPOLL ring, to the SQ thread's, which submits all of
    /// the ring's work), to the pools of the threads that have submitted to
    /// this ring, and to the pool a thread without one makes when it first
    /// submits to it; the ring keeps them for that. A thread whose pool
    /// existed before it first submitted to this ring, and that did not
    /// make the call, keeps its own limits: set them from the thread that
    /// drives the ring. On a thread with no pool both limits read 0, which
    /// means no pool, not no workers. A pool's defaults are the smaller of
    /// the SQ's entries and four per CPU for bounded work and
    /// `RLIMIT_NPROC` for unbounded work. Counts past `i32::MAX` are
    /// refused (`EINVAL`), and counts past `RLIMIT_NPROC` are cut to it.
    pub fn set_iowq_max_workers(&mut self, limits: IoWqWorkers) -> Result<IoWqWorkers> {
        let mut values = [limits.bounded, limits.unbounded];
        self.register(
            sys::IORING_REGISTER_IOWQ_MAX_WORKERS,
            values.as_mut_ptr().cast(),
            2,
            "IORING_REGISTER_IOWQ_MAX_WORKERS",
        )?;
        Ok(IoWqWorkers {
            bounded: values[sys::IO_WQ_BOUND],
            unbounded: values[sys::IO_WQ_UNBOUND],
        })
    }

    /// The io-wq worker limits of the calling thread's worker pool (both 0
    /// on a thread with no pool yet: see
    /// [`set_iowq_max_workers`](Ring::set_iowq_max_workers)).
    pub fn iowq_max_workers(&mut self) -> Result<IoWqWorkers> {
        self.set_iowq_max_workers(IoWqWorkers {
            bounded: 0,
            unbounded: 0,
        })
    }

    /// Runs the calling thread's io-wq workers only on `cpus`
    /// (`IORING_REGISTER_IOWQ_AFF`, 5.14); on an SQPOLL ring, the SQ
    /// thread's.
    ///
    /// The affinity is a worker pool's, and pools are threads', not rings'
    /// (see [`set_iowq_max_workers`](Ring::set_iowq_max_workers)): it holds
    /// for the work of every ring the calling thread submits to, and not
    /// for this ring's work submitted from another thread, whose pool keeps
    /// its own. Call it from the thread that drives the ring. The ring
    /// keeps nothing. On a thread with no pool it fails (`EINVAL`).
    pub fn set_iowq_affinity(&mut self, cpus: &[usize]) -> Result<()> {
        // SAFETY: all-zero bytes are an empty `cpu_set_t`.
        let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(Error::InvalidArgument(format!("CPU {cpu} is out of range")));
            }
            // SAFETY: `cpu` is below CPU_SETSIZE, checked above.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        self.register(
            sys::IORING_REGISTER_IOWQ_AFF,
            (&set as *const libc::cpu_set_t).cast(),
            mem::size_of::<libc::cpu_set_t>() as u32,
            "IORING_REGISTER_IOWQ_AFF",
        )
        .map(drop)
    }

    /// Lets the calling thread's io-wq workers (on an SQPOLL ring, the SQ
    /// thread's) run on any CPU again (`IORING_UNREGISTER_IOWQ_AFF`).
    pub fn clear_iowq_affinity(&mut self) -> Result<()> {
        self.register(
            sys::IORING_UNREGISTER_IOWQ_AFF,
            std::ptr::null(),
            0,
            "IORING_UNREGISTER_IOWQ_AFF",
        )
        .map(drop)
    }

    /// Registers the calling task's credentials as a personality
    /// (`IORING_REGISTER_PERSONALITY`, 5.6).
    pub fn register_personality(&mut self) -> Result<Personality> {
        let id = self.register(
            sys::IORING_REGISTER_PERSONALITY,
            std::ptr::null(),
            0,
            "IORING_REGISTER_PERSONALITY",
        )?;
        let id = id as u16;
        self.personality_count = self.personality_count.wrapping_add(1);
        let registration = self.personality_count;
        // The kernel hands out only free ids: an entry of this id is an
        // earlier registration's, gone without this ring knowing.
        self.personalities.insert(id, registration);
        Ok(Personality {
            id,
            ring: self.id,
            registration,
        })
    }

    /// Unregisters a personality (`IORING_UNREGISTER_PERSONALITY`); ops that
    /// name it afterwards fail with `EINVAL`, until the kernel hands its id
    /// out again. A handle of a personality unregistered already (or of an
    /// earlier registration of its id) is refused, and unregisters nothing.
    pub fn unregister_personality(&mut self, personality: Personality) -> Result<()> {
        self.check_handle(personality.ring, "personality")?;
        if self.personalities.get(&personality.id) != Some(&personality.registration) {
            return Err(Error::InvalidArgument(format!(
                "personality {} was unregistered already",
                personality.id
            )));
        }
        self.register(
            sys::IORING_UNREGISTER_PERSONALITY,
            std::ptr::null(),
            u32::from(personality.id),
            "IORING_UNREGISTER_PERSONALITY",
        )?;
        self.personalities.remove(&personality.id);
        Ok(())
    }

    /// Limits what the ring may do to `rules` (`IORING_REGISTER_RESTRICTIONS`,
    /// 5.10): only the ops, register calls and SQE flags they allow. Only on
    /// a ring created with [`Builder::r_disabled`](crate::Builder::r_disabled),
    /// before [`enable`](Ring::enable), and once.
    pub fn register_restrictions(&mut self, rules: &[Restriction]) -> Result<()> {
        let len = u32::try_from(rules.len())
            .map_err(|_| Error::InvalidArgument("too many restrictions".into()))?;
        let registered = self.register(
            sys::IORING_REGISTER_RESTRICTIONS,
            rules.as_ptr().cast(),
            len,
            "IORING_REGISTER_RESTRICTIONS",
        );
        match registered {
            Ok(_) => self.sqe_rules = SqeRules::of(rules),
            // A set the kernel refuses part-way is reset whole (`EINVAL`);
            // `EBUSY` (a set registered already) and `EBADFD` (an enabled
            // ring) leave the earlier one.
            Err(ref e) if e.raw_os_error() == Some(libc::EINVAL) => self.sqe_rules = None,
            Err(_) => {}
        }
        registered.map(drop)
    }

    /// Cancels the requests `what` names and waits until they are gone,
    /// cancelled or completed (`IORING_REGISTER_SYNC_CANCEL`, 6.0): when it
    /// returns, the kernel no longer uses their memory. Their completions
    /// come as usual, not always in the CQ yet: into the kernel's overflow
    /// list when the CQ is full, a moment later from an SQ thread, at the
    /// next wait on a ring with `defer_taskrun` (where the call runs the
    /// ring's task work itself, which brings some); a wait for them brings
    /// them. [`Error::TimedOut`] if `timeout` passes first; an `ENOENT`
    /// error when nothing matched, but for [`SyncCancel::all`] and
    /// [`SyncCancel::any`], which match any number of requests, none
    /// included (`Ok`).
    ///
    /// With [`all`](SyncCancel::all), the requests are cancelled one at a
    /// time: Linux 6.18 does not count, nor wait for, a request that an
    /// io-wq worker is running when it is asked for all of them. Every
    /// request that needs no wait is cancelled, a zero timeout included;
    /// [`Error::TimedOut`] says one was still running when the time was
    /// up (and those after it are left). With
    /// [`any`](SyncCancel::any) that cannot be done, and such a request may
    /// still be running when the call returns.
    ///
    /// `ENOENT` may also come for a request an io-wq worker was running:
    /// Linux 6.18 interrupts the worker, forgets that it found the request,
    /// and looks again, and a worker that completed it in between leaves
    /// nothing to find. Its completion still comes, as for one cancelled.
    ///
    /// On an SQPOLL ring, Linux 6.18 does not find the ops that the SQ
    /// thread handed to its io-wq workers (a read or splice that blocks):
    /// they are not matched (`ENOENT`, or not waited for with `all` and
    /// `any`). A [`Cancel`](crate::ops::Cancel) SQE reaches them.
    pub fn cancel_sync(&mut self, what: SyncCancel<'_>, timeout: Option<Duration>) -> Result<()> {
        self.cancel_sync_keys(what, timeout)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) => no_request_matched(),
                _ => e,
            })
    }

    /// [`cancel_sync`](Ring::cancel_sync), with the kernel's own `ENOENT`.
    fn cancel_sync_keys(&mut self, what: SyncCancel<'_>, timeout: Option<Duration>) -> Result<()> {
        if what.ring != 0 {
            self.check_handle(what.ring, "files")?;
        }
        let all = sys::IORING_ASYNC_CANCEL_ALL;
        if what.flags & all == 0 || what.flags & sys::IORING_ASYNC_CANCEL_ANY != 0 {
            return self.cancel_sync_each(&what, timeout);
        }
        let one = SyncCancel {
            flags: what.flags & !all,
            ..what
        };
        let deadline = Deadline::after(timeout);
        loop {
            // Past the deadline, each call still cancels what needs no
            // wait, and times out on a request that is running: the loop
            // ends at the first request the time left does not cover, or
            // once none is left (each `Ok` is one request gone, and none
            // comes meanwhile: the ring is borrowed).
            match self.cancel_sync_each(&one, deadline.left()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// [`cancel_sync`](Ring::cancel_sync) of what one call to the kernel
    /// cancels: the first request `what` matches, or with `any` every one
    /// it finds.
    fn cancel_sync_each(&mut self, what: &SyncCancel<'_>, timeout: Option<Duration>) -> Result<()> {
        if !self.has_setup(sys::IORING_SETUP_DEFER_TASKRUN) {
            return self.cancel_sync_once(what, timeout).map(drop);
        }
        // On a `defer_taskrun` ring, Linux 6.18 waits for a request it
        // found running (in io-wq, say) until a completion wakes it, and
        // that completion is task work for this very thread, which sleeps:
        // the wait would last the whole timeout, or forever. Task work also
        // re-arms a multishot timeout or poll that fired, which the kernel
        // cannot find until then. So the wait goes in slices, and the
        // ring's task work runs first and between them.
        let deadline = Deadline::after(timeout);
        let mut slice = Duration::from_millis(1);
        // Whether a request matched that was running then.
        let mut found = false;
        // Looks again after a miss that task work may explain.
        let mut again = 0;
        loop {
            self.run_task_work()?;
            let left = deadline.left();
            let last = left.is_some_and(|left| left <= slice);
            let this = left.map_or(slice, |left| left.min(slice));
            match self.cancel_sync_once(what, Some(this)) {
                Err(Error::TimedOut) => found = true,
                // What matched before is gone now.
                Err(e) if found && e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                // A multishot op that fired again between the task work run
                // above and the call is out of the kernel's list until the
                // task work re-arms it: if running it posts a completion,
                // the miss may be that, and the call is made again (a few
                // times: an op that fires faster than the calls can run
                // stays missed).
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && again < 4 => {
                    let before = self.cq.tail();
                    self.run_task_work()?;
                    if self.cq.tail() == before {
                        return Err(e);
                    }
                    again += 1;
                    continue;
                }
                other => return other.map(drop),
            }
            if last {
                // A last look, with the task work run, at whether it ended
                // within the time.
                self.run_task_work()?;
                return match self.cancel_sync_once(what, Some(Duration::ZERO)) {
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                    other => other.map(drop),
                };
            }
            slice = (slice * 2).min(Duration::from_millis(64));
        }
    }

    /// Runs the ring's task work (a `defer_taskrun` ring's runs only when
    /// its thread enters the kernel for completions), waiting for none.
    fn run_task_work(&mut self) -> Result<()> {
        match self.get_events() {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// One `IORING_REGISTER_SYNC_CANCEL` call for `what`, waiting up to
    /// `timeout` (for ever with `None`); the kernel's count of what it
    /// matched.
    fn cancel_sync_once(
        &mut self,
        what: &SyncCancel<'_>,
        timeout: Option<Duration>,
    ) -> Result<u32> {
        let timeout = match timeout {
            // The kernel adds the timeout to the current time, as for waits.
            Some(t) => Timespec::for_wait(t).into_raw(),
            None => sys::__kernel_timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
        };
        let reg = sys::io_uring_sync_cancel_reg {
            addr: what.addr,
            fd: what.fd,
            flags: what.flags,
            timeout,
            opcode: what.opcode,
            ..Default::default()
        };
        loop {
            match self.register(
                sys::IORING_REGISTER_SYNC_CANCEL,
                (&reg as *const sys::io_uring_sync_cancel_reg).cast(),
                1,
                "IORING_REGISTER_SYNC_CANCEL",
            ) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => return Err(Error::TimedOut),
                other => return other,
            }
        }
    }

    /// Times the ring's waits (their timeouts, deadlines and minimum
    /// waits) on `clock` (`IORING_REGISTER_CLOCK`, 6.12); `CLOCK_MONOTONIC`
    /// until then. A [`WaitArgs::deadline`](crate::WaitArgs::deadline) is
    /// an `Instant` all the same: it is turned into a time of `clock`. Ops'
    /// own timeouts name their clock in their flags
    /// ([`TimeoutFlags`](crate::TimeoutFlags)).
    pub fn register_clock(&mut self, clock: Clock) -> Result<()> {
        let reg = sys::io_uring_clock_register {
            clockid: clock.id() as u32,
            ..Default::default()
        };
        self.register(
            sys::IORING_REGISTER_CLOCK,
            (&reg as *const sys::io_uring_clock_register).cast(),
            0,
            "IORING_REGISTER_CLOCK",
        )?;
        self.wait_clock = clock;
        Ok(())
    }

    /// Signals `eventfd` whenever a completion is posted
    /// (`IORING_REGISTER_EVENTFD`); with `async_only`, only for completions
    /// of requests that went async (`IORING_REGISTER_EVENTFD_ASYNC`).
    ///
    /// On a [`defer_taskrun`](crate::Builder::defer_taskrun) ring the
    /// eventfd is signalled when the kernel queues a completion's work,
    /// before the completion is in the CQ: after the signal,
    /// [`get_events`](Ring::get_events) (or any wait) posts it.
    pub fn register_eventfd(&mut self, eventfd: BorrowedFd<'_>, async_only: bool) -> Result<()> {
        let fd = eventfd.as_raw_fd();
        let (opcode, name) = if async_only {
            (
                sys::IORING_REGISTER_EVENTFD_ASYNC,
                "IORING_REGISTER_EVENTFD_ASYNC",
            )
        } else {
            (sys::IORING_REGISTER_EVENTFD, "IORING_REGISTER_EVENTFD")
        };
        self.register(opcode, (&fd as *const i32).cast(), 1, name)
            .map(drop)
    }

    /// Stops signalling the registered eventfd (`IORING_UNREGISTER_EVENTFD`).
    pub fn unregister_eventfd(&mut self) -> Result<()> {
        self.register(
            sys::IORING_UNREGISTER_EVENTFD,
            std::ptr::null(),
            0,
            "IORING_UNREGISTER_EVENTFD",
        )
        .map(drop)
    }

    /// Whether completions signal the registered eventfd: the CQ ring's
    /// `IORING_CQ_EVENTFD_DISABLED` flag is clear (liburing's
    /// `io_uring_cq_eventfd_enabled`). `true` on a kernel whose CQ ring has
    /// no flags word.
    pub fn cq_eventfd_enabled(&self) -> bool {
        self.cq.flags().is_none_or(|flags| {
            flags.load(std::sync::atomic::Ordering::Relaxed) & sys::IORING_CQ_EVENTFD_DISABLED == 0
        })
    }

    /// Turns the signals of the registered eventfd on or off without
    /// unregistering it, with the CQ ring's `IORING_CQ_EVENTFD_DISABLED`
    /// flag (5.8; liburing's `io_uring_cq_eventfd_toggle`): completions
    /// posted while it is off do not signal the eventfd. Asking for the
    /// state it is in does nothing; turning it off is an
    /// [`Error::Unsupported`] on a kernel whose CQ ring has no flags word.
    pub fn set_cq_eventfd(&mut self, enabled: bool) -> Result<()> {
        if enabled == self.cq_eventfd_enabled() {
            return Ok(());
        }
        let Some(flags) = self.cq.flags() else {
            return Err(Error::Unsupported(
                "the kernel's CQ ring has no flags word (IORING_CQ_EVENTFD_DISABLED, 5.8)",
            ));
        };
        // Only user space writes the word; `&mut self` makes this thread
        // its one writer here.
        let old = flags.load(std::sync::atomic::Ordering::Relaxed);
        let new = if enabled {
            old & !sys::IORING_CQ_EVENTFD_DISABLED
        } else {
            old | sys::IORING_CQ_EVENTFD_DISABLED
        };
        flags.store(new, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Posts a completion with `res` and `user_data` to this ring, from no
    /// ring: a `MsgRing` without a ring to send it
    /// (`IORING_REGISTER_SEND_MSG_RING`, 6.13). The ring is borrowed, so no
    /// scope of it is running: the completion is a plain message. The call
    /// names no sending ring, so the ring's restrictions do not apply; a
    /// ring without a descriptor ([`Builder::registered_fd_only`](crate::Builder::registered_fd_only),
    /// [`close_ring_fd`](Ring::close_ring_fd)) cannot be posted to
    /// (`EBADF`).
    pub fn post(&self, res: i32, user_data: u64) -> Result<()> {
        self.outside.set(true);
        crate::ring::msg_target::post(self.as_raw_fd(), res, user_data)
    }
}

#[cfg(test)]
mod tests {
    use super::{Restriction, SqeRules};
    use crate::sys;

    /// The rules refuse what `io_check_restriction` refuses: an opcode not
    /// allowed, an SQE without a required flag, an SQE with a flag neither
    /// allowed nor required; the last of several flag rules counts; rules
    /// of register ops alone make no SQE rules.
    #[test]
    fn sqe_rules_refuse_as_the_kernel_does() {
        let nop = sys::IORING_OP_NOP;
        let cancel = sys::IORING_OP_ASYNC_CANCEL;
        let rules = SqeRules::of(&[
            Restriction::opcode(nop),
            Restriction::opcode(255),
            Restriction::sqe_flags_allowed(sys::IOSQE_ASYNC),
            Restriction::sqe_flags_allowed(sys::IOSQE_IO_DRAIN | sys::IOSQE_ASYNC),
            Restriction::sqe_flags_required(sys::IOSQE_CQE_SKIP_SUCCESS),
        ])
        .unwrap();
        let skip = sys::IOSQE_CQE_SKIP_SUCCESS;
        assert!(!rules.refuses(nop, skip));
        assert!(!rules.refuses(255, skip | sys::IOSQE_IO_DRAIN | sys::IOSQE_ASYNC));
        assert!(rules.refuses(cancel, skip), "an opcode not allowed");
        assert!(rules.refuses(nop, 0), "without the required flag");
        assert!(
            rules.refuses(nop, skip | sys::IOSQE_IO_LINK),
            "a flag not allowed"
        );
        let only_register = [Restriction::register_op(sys::IORING_REGISTER_PROBE as u8)];
        assert!(SqeRules::of(&only_register).is_none());
    }
}
