//! What ends a wait besides its completions arriving: a timeout, a minimum
//! wait, a signal mask; and the wait arguments registered with the ring.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::ring::Ring;
use crate::sys;
use crate::types::Timespec;
use std::fmt;
use std::time::{Duration, Instant};

/// How a wait ends besides having its completions: for
/// [`Ring::wait_with`] and [`Ring::submit_and_wait_with`].
///
/// ```
/// use std::time::Duration;
/// use uring::{Ring, WaitArgs, ops::Nop};
/// # fn main() -> uring::Result<()> {
/// let mut ring = Ring::new(8)?;
/// ring.push(Nop::new())?;
/// ring.submit_and_wait_with(1, &WaitArgs::new().timeout(Duration::from_secs(1)))?;
/// assert_eq!(ring.completions().count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Default)]
pub struct WaitArgs<'a> {
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) min_wait: Option<Duration>,
    pub(crate) sigmask: Option<&'a libc::sigset_t>,
}

impl<'a> WaitArgs<'a> {
    /// A wait that ends only when its completions are there.
    pub fn new() -> WaitArgs<'a> {
        WaitArgs::default()
    }

    /// Ends the wait after `timeout` ([`Error::TimedOut`]), as
    /// [`Ring::wait_timeout`] does (5.11).
    pub fn timeout(mut self, timeout: Duration) -> WaitArgs<'a> {
        self.timeout = Some(timeout);
        self
    }

    /// Ends the wait at `deadline` ([`Error::TimedOut`]), however many times
    /// the wait is entered again (after a signal, or to submit more). Where
    /// the kernel times waits against an absolute time
    /// (`IORING_ENTER_ABS_TIMER`, 6.12), that is what it is given, on the
    /// ring's clock ([`Ring::register_clock`]); before, the time left. With
    /// a [`timeout`](WaitArgs::timeout) too, the earlier of the two ends
    /// the wait. A deadline already past makes the wait a check of what is
    /// ready.
    pub fn deadline(mut self, deadline: Instant) -> WaitArgs<'a> {
        self.deadline = Some(deadline);
        self
    }

    /// Ends the wait once `min_wait` has passed (counted from the start of
    /// the wait, across the enters a signal or a firing timeout op makes)
    /// if at least one completion is there by then, even fewer than asked
    /// for (`min_wait_usec`, 6.12): a batching
    /// wait that does not hold on to a lone completion for long. With none
    /// there by then, it goes on until one comes (or its timeout). Counted in
    /// whole microseconds, at most `u32::MAX` of them; never longer than the
    /// [`timeout`](WaitArgs::timeout) or the time left to the
    /// [`deadline`](WaitArgs::deadline).
    pub fn min_wait(mut self, min_wait: Duration) -> WaitArgs<'a> {
        self.min_wait = Some(min_wait);
        self
    }

    /// Blocks the signals of `mask` for the length of the wait, and
    /// unblocks the others, as `ppoll(2)` does (5.11). As with `ppoll`, a
    /// signal delivered during such a wait ends it: its handler runs and
    /// the wait fails with `EINTR` ([`Error::raw_os_error`]; an
    /// `io::Error` of kind `Interrupted`), or, when completions (fewer
    /// than asked for) wait in the kernel's CQ, for which it reports no
    /// `EINTR`, returns `Ok` with them ready, as liburing's waits do (so
    /// does a wait that a timeout op firing ends). What the call submitted
    /// before stays submitted. (Waits without a mask resume after a
    /// signal.) An IOPOLL ring's waits poll without the mask: they refuse
    /// it ([`Error::Unsupported`]).
    ///
    /// A signal that arrives between two waits is not lost if the thread
    /// blocks it outside them and the mask lets it through: it stays
    /// pending until the next such wait, which it ends at once.
    pub fn sigmask(mut self, mask: &'a libc::sigset_t) -> WaitArgs<'a> {
        self.sigmask = Some(mask);
        self
    }

    /// Whether the wait needs the kernel's extended argument.
    pub(crate) fn extended(&self) -> bool {
        self.timeout.is_some()
            || self.deadline.is_some()
            || self.min_wait.is_some()
            || self.sigmask.is_some()
    }

    /// When the wait ends at the latest, counted from `now`: the earlier of
    /// the timeout (clamped to what the kernel can time) and the deadline.
    pub(crate) fn end(&self, now: Instant) -> Option<Instant> {
        let after = self
            .timeout
            .map(|t| now.checked_add(t.min(Timespec::MAX_WAIT)).unwrap_or(now));
        match (after, self.deadline) {
            (Some(a), Some(d)) => Some(a.min(d)),
            (a, d) => a.or(d),
        }
    }

    pub(crate) fn min_wait_usec(&self) -> u32 {
        self.min_wait.map_or(0, usec)
    }
}

/// `d` in whole microseconds, at most `u32::MAX` of them: the unit of the
/// kernel's minimum wait.
pub(crate) fn usec(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl fmt::Debug for WaitArgs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitArgs")
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("min_wait", &self.min_wait)
            .field("sigmask", &self.sigmask.is_some())
            .finish()
    }
}

/// The size of the kernel's signal set (`_NSIG / 8`).
pub(crate) const SIGSET_SIZE: u32 = 8;

/// Wait arguments registered with a ring (`IORING_REGISTER_MEM_REGION`,
/// 6.13), which waits name by slot instead of copying them in each time.
pub(crate) struct WaitRegion {
    map: Mapping,
    slots: u32,
    /// What each slot was set to: an enter after a wait that the kernel
    /// ended early waits for the time left of these, rather than for the
    /// slot's from the start again. The signal masks the slots point the
    /// kernel at live here: the vector is made at its full length when the
    /// region is registered and never grows, so they do not move while the
    /// ring lives.
    set: Vec<SlotArgs>,
}

/// What one registered wait slot was set to.
#[derive(Clone, Copy, Default)]
pub(crate) struct SlotArgs {
    timeout: Option<Duration>,
    min_wait: Option<Duration>,
    sigmask: Option<libc::sigset_t>,
}

impl SlotArgs {
    /// The slot's arguments, as those of a wait that copies them in.
    pub(crate) fn wait_args(&self) -> WaitArgs<'_> {
        WaitArgs {
            timeout: self.timeout,
            deadline: None,
            min_wait: self.min_wait,
            sigmask: self.sigmask.as_ref(),
        }
    }
}

impl WaitRegion {
    /// What slot `index` was set to.
    pub(crate) fn args(&self, index: u32) -> SlotArgs {
        self.set.get(index as usize).copied().unwrap_or_default()
    }

    fn slot(&self, index: u32) -> Option<*mut sys::io_uring_reg_wait> {
        (index < self.slots).then(|| {
            // SAFETY: `index` is below the slots the mapping holds.
            unsafe {
                self.map
                    .as_ptr()
                    .cast::<sys::io_uring_reg_wait>()
                    .add(index as usize)
            }
        })
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Waits until `want` completions are ready, or what `args` says ends
    /// the wait first ([`Error::TimedOut`] for the timeout; `Ok` after the
    /// minimum wait with fewer than `want`, but at least one; `EINTR`, or
    /// `Ok` with fewer, for a signal the mask lets through: see
    /// [`WaitArgs::sigmask`]).
    pub fn wait_with(&mut self, want: u32, args: &WaitArgs<'_>) -> Result<()> {
        self.enter_and_wait(false, want, &WaitSpec::Args(*args))
            .map(drop)
    }

    /// [`submit_and_wait`](Ring::submit_and_wait), with the wait ending as
    /// [`wait_with`](Ring::wait_with)'s does; a timeout counts what was
    /// submitted as [`submit_and_wait_timeout`](Ring::submit_and_wait_timeout)
    /// does.
    pub fn submit_and_wait_with(&mut self, want: u32, args: &WaitArgs<'_>) -> Result<u32> {
        self.enter_and_wait(true, want, &WaitSpec::Args(*args))
    }

    /// Registers `slots` wait arguments with the ring, set with
    /// [`set_registered_wait`](Ring::set_registered_wait) and used by
    /// [`wait_registered`](Ring::wait_registered)
    /// (`IORING_REGISTER_MEM_REGION`, 6.13). Only on a ring created
    /// disabled ([`Builder::r_disabled`](crate::Builder::r_disabled)),
    /// before it is enabled, and once. The memory is the ring's for as long
    /// as the kernel ring lives.
    ///
    /// The region is whole pages: every slot that fits in them is usable
    /// (63 in a 4 KiB page), but for the last 64 bytes, which are never a
    /// slot. Linux 6.18 checks a wait's slot with
    /// `array_index_nospec(offset, size - 64)`, which turns the last slot's
    /// offset into 0: a wait on it would run with slot 0's arguments (and
    /// never end, with slot 0 unset).
    pub fn register_wait_region(&mut self, slots: u32) -> Result<()> {
        if self.wait_region.is_some() {
            return Err(Error::InvalidArgument(
                "the ring has its wait region already".into(),
            ));
        }
        if slots == 0 {
            return Err(Error::InvalidArgument("a wait region of no slots".into()));
        }
        // One slot more than asked for: the last is never handed out (see
        // above).
        let size = (slots as usize + 1)
            .checked_mul(std::mem::size_of::<sys::io_uring_reg_wait>())
            .ok_or_else(|| Error::InvalidArgument(format!("{slots} wait slots")))?;
        let page = page_size();
        let size = size.div_ceil(page) * page;
        let slots = u32::try_from(size / std::mem::size_of::<sys::io_uring_reg_wait>() - 1)
            .unwrap_or(u32::MAX);
        // What each slot was set to, had before the kernel takes the
        // region: an error rather than an abort when it cannot be.
        let mut set = Vec::new();
        set.try_reserve_exact(slots as usize).map_err(|_| {
            Error::os(
                "IORING_REGISTER_MEM_REGION",
                std::io::Error::from_raw_os_error(libc::ENOMEM),
            )
        })?;
        set.resize(slots as usize, SlotArgs::default());
        let map = Mapping::anonymous(size)?;
        let desc = sys::io_uring_region_desc {
            user_addr: map.as_ptr() as u64,
            size: size as u64,
            flags: sys::IORING_MEM_REGION_TYPE_USER,
            ..Default::default()
        };
        let reg = sys::io_uring_mem_region_reg {
            region_uptr: &desc as *const sys::io_uring_region_desc as u64,
            flags: sys::IORING_MEM_REGION_REG_WAIT_ARG,
            ..Default::default()
        };
        self.register(
            sys::IORING_REGISTER_MEM_REGION,
            (&reg as *const sys::io_uring_mem_region_reg).cast(),
            1,
            "IORING_REGISTER_MEM_REGION",
        )?;
        self.wait_region = Some(WaitRegion { map, slots, set });
        Ok(())
    }

    /// Sets registered wait argument `slot` to end a wait after `timeout`
    /// and, with at least one completion, after `min_wait`, keeping the
    /// signal mask [`set_registered_wait_sigmask`] gave it. A minimum wait
    /// longer than the timeout is cut to it: the kernel starts the timeout
    /// only once the minimum wait is over.
    ///
    /// [`set_registered_wait_sigmask`]: Ring::set_registered_wait_sigmask
    pub fn set_registered_wait(
        &mut self,
        slot: u32,
        timeout: Option<Duration>,
        min_wait: Option<Duration>,
    ) -> Result<()> {
        self.update_registered_wait(slot, |args| {
            args.timeout = timeout;
            args.min_wait = min_wait.map(|m| timeout.map_or(m, |t| m.min(t)));
        })
    }

    /// Sets the signal mask of registered wait argument `slot`, keeping its
    /// timeout and minimum wait: a wait on the slot blocks the signals of
    /// `mask` and unblocks the others for its length, and a signal the mask
    /// lets through ends it, as [`WaitArgs::sigmask`] says. `None` takes
    /// the mask away. The ring keeps a copy of `mask`, which the kernel
    /// reads at each wait on the slot.
    pub fn set_registered_wait_sigmask(
        &mut self,
        slot: u32,
        mask: Option<&libc::sigset_t>,
    ) -> Result<()> {
        self.update_registered_wait(slot, |args| args.sigmask = mask.copied())
    }

    /// Changes what slot `slot` was set to with `update`, and writes it
    /// where the kernel reads it.
    fn update_registered_wait(
        &mut self,
        slot: u32,
        update: impl FnOnce(&mut SlotArgs),
    ) -> Result<()> {
        let entry = self.registered_wait_slot(slot)?;
        let Some(region) = &mut self.wait_region else {
            // (`registered_wait_slot` found the region.)
            return Ok(());
        };
        let set = &mut region.set[slot as usize];
        update(set);
        let args = set.wait_args();
        let (sigmask, sigmask_sz) = match &set.sigmask {
            Some(mask) => (mask as *const libc::sigset_t as u64, SIGSET_SIZE),
            None => (0, 0),
        };
        let value = sys::io_uring_reg_wait {
            ts: Timespec::for_wait(set.timeout.unwrap_or_default()).into_raw(),
            min_wait_usec: args.min_wait_usec(),
            flags: if set.timeout.is_some() {
                sys::IORING_REG_WAIT_TS
            } else {
                0
            },
            sigmask,
            sigmask_sz,
            ..Default::default()
        };
        // SAFETY: the slot is in the region, which this ring owns; the
        // kernel reads it only during an enter, and none runs while `self`
        // is borrowed mutably. The mask it points at is the slot's in
        // `region.set`, which never moves while the ring lives (see
        // `WaitRegion::set`) and is only replaced in place.
        unsafe { entry.write(value) };
        Ok(())
    }

    /// Waits until `want` completions are ready, or what registered wait
    /// argument `slot` says ends the wait first. The first enter reads the
    /// slot; should the kernel end that wait early (a signal, a timeout op
    /// completing), the wait goes on for the time left of the slot's
    /// timeout and minimum wait, with arguments copied in.
    pub fn wait_registered(&mut self, want: u32, slot: u32) -> Result<()> {
        self.registered_wait_slot(slot)?;
        self.enter_and_wait(false, want, &WaitSpec::Registered(slot))
            .map(drop)
    }

    /// [`submit_and_wait`](Ring::submit_and_wait), with the wait ending as
    /// [`wait_registered`](Ring::wait_registered)'s does; a timeout counts
    /// what was submitted as
    /// [`submit_and_wait_timeout`](Ring::submit_and_wait_timeout) does.
    pub fn submit_and_wait_registered(&mut self, want: u32, slot: u32) -> Result<u32> {
        self.registered_wait_slot(slot)?;
        self.enter_and_wait(true, want, &WaitSpec::Registered(slot))
    }

    fn registered_wait_slot(&self, slot: u32) -> Result<*mut sys::io_uring_reg_wait> {
        let region = self.wait_region.as_ref().ok_or_else(|| {
            Error::InvalidArgument("the ring has no wait region (register_wait_region)".into())
        })?;
        region.slot(slot).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "wait slot {slot} is outside the region of {}",
                region.slots
            ))
        })
    }
}

/// What a wait of `enter_and_wait` is given.
#[derive(Clone, Copy)]
pub(crate) enum WaitSpec<'a> {
    /// Arguments copied in with each enter.
    Args(WaitArgs<'a>),
    /// A registered wait argument, by slot.
    Registered(u32),
}

impl WaitSpec<'static> {
    /// No argument: wait for the completions alone.
    pub(crate) const NONE: WaitSpec<'static> = WaitSpec::Args(WaitArgs {
        timeout: None,
        deadline: None,
        min_wait: None,
        sigmask: None,
    });

    /// A timeout, or none.
    pub(crate) fn timeout(timeout: Option<Duration>) -> WaitSpec<'static> {
        WaitSpec::Args(WaitArgs {
            timeout,
            deadline: None,
            min_wait: None,
            sigmask: None,
        })
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf takes a plain integer.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}
