//! Which ops the running kernel supports (`IORING_REGISTER_PROBE`).

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::op::{Entry, OpInfo};
use crate::params::{Features, SetupFlags};
use crate::ring::Ring;
use crate::sys;
use std::fmt;
use std::mem;

/// The running kernel's answer to "which opcodes do you support?".
///
/// ```
/// use uring::{Ring, ops::{Nop, Read}};
/// # fn main() -> uring::Result<()> {
/// let probe = Ring::new(1)?.probe()?;
/// assert!(probe.supports::<Nop>());
/// probe.require::<Read>()?;
/// for op in probe.missing() {
///     println!("this kernel lacks {} (added in {})", op.name, op.since);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Probe {
    last_op: u8,
    supported: [bool; 256],
    /// The running kernel's `major.minor`, when known.
    kernel: Option<(u32, u32)>,
}

impl Probe {
    /// Asks the running kernel which ops it supports, through a ring of its
    /// own made for the question and closed after it, as liburing's
    /// `io_uring_get_probe` does. [`Ring::probe`] asks through a ring the
    /// program has.
    ///
    /// ```
    /// use uring::{Probe, ops::Nop};
    /// # fn main() -> uring::Result<()> {
    /// assert!(Probe::kernel()?.supports::<Nop>());
    /// # Ok(())
    /// # }
    /// ```
    pub fn kernel() -> Result<Probe> {
        Ring::new(2)?.probe()
    }

    /// Whether the kernel supports `opcode`.
    pub fn is_supported(&self, opcode: u8) -> bool {
        self.supported[opcode as usize]
    }

    /// Whether the kernel supports the op `E`: its opcode, and, for the
    /// forms that share an opcode with another op (`PollUpdate`,
    /// `RecvMsgMulti`, `SendZcFixed`, `CancelFd`, ...), the version that
    /// added the form (`E::SINCE`), since the kernel probes opcodes, not
    /// flags. (A kernel with a feature backported under an older version
    /// number answers no here; pushing the op then tells.)
    pub fn supports<E: Entry>(&self) -> bool {
        self.is_supported(E::CODE) && self.has_version(E::SINCE)
    }

    /// Whether the running kernel is at least `since` (`"major.minor"`);
    /// true when either is unknown.
    fn has_version(&self, since: &str) -> bool {
        match (self.kernel, sys::parse_release(since)) {
            (Some(kernel), Some(since)) => kernel >= since,
            _ => true,
        }
    }

    /// [`Error::UnsupportedOp`] naming `E` unless the kernel supports it.
    pub fn require<E: Entry>(&self) -> Result<()> {
        if self.supports::<E>() {
            Ok(())
        } else {
            Err(Error::UnsupportedOp {
                name: E::NAME,
                code: E::CODE,
            })
        }
    }

    /// The highest opcode the kernel knows.
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// The ops of this crate's table that the kernel lacks.
    pub fn missing(&self) -> impl Iterator<Item = &'static OpInfo> + '_ {
        crate::ops::ALL
            .iter()
            .filter(move |op| !self.is_supported(op.code) || !self.has_version(op.since))
    }

    /// The ops of `table` (a list an `ops!` table generated) that the kernel
    /// lacks.
    pub fn missing_from<'t>(
        &'t self,
        table: &'t [OpInfo],
    ) -> impl Iterator<Item = &'t OpInfo> + 't {
        table
            .iter()
            .filter(|op| !self.is_supported(op.code) || !self.has_version(op.since))
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing: Vec<&str> = self.missing().map(|op| op.name).collect();
        f.debug_struct("Probe")
            .field("last_op", &self.last_op)
            .field("missing", &missing)
            .finish()
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Asks the kernel which ops it supports (`IORING_REGISTER_PROBE`, 5.6).
    /// The answer is the kernel's, not what this ring may run: ops a ring's
    /// restrictions refuse are listed as supported all the same (and a
    /// ring whose restrictions refuse the probe itself fails it with
    /// `EACCES`).
    pub fn probe(&self) -> Result<Probe> {
        const OPS: usize = 256;
        let words = (mem::size_of::<sys::io_uring_probe>()
            + OPS * mem::size_of::<sys::io_uring_probe_op>())
        .div_ceil(mem::size_of::<u64>());
        // u64 words keep the buffer aligned for both structs.
        let mut buf = vec![0u64; words];
        self.register(
            sys::IORING_REGISTER_PROBE,
            buf.as_mut_ptr().cast(),
            OPS as u32,
            "IORING_REGISTER_PROBE",
        )?;
        let base = buf.as_ptr().cast::<u8>();
        // SAFETY: the buffer holds a header followed by OPS entries, which the
        // kernel filled; `ops_len` is at most what we passed.
        let (header, ops) = unsafe {
            let header = &*base.cast::<sys::io_uring_probe>();
            let ops = std::slice::from_raw_parts(
                base.add(mem::size_of::<sys::io_uring_probe>())
                    .cast::<sys::io_uring_probe_op>(),
                (header.ops_len as usize).min(OPS),
            );
            (header, ops)
        };
        let mut supported = [false; 256];
        for op in ops {
            supported[op.op as usize] = op.flags & sys::IO_URING_OP_SUPPORTED != 0;
        }
        Ok(Probe {
            kernel: sys::kernel_release(),
            last_op: header.last_op,
            supported,
        })
    }
}

/// What the running kernel's io_uring knows, asked without a ring
/// (`IORING_REGISTER_QUERY` with `IO_URING_QUERY_OPCODES`, 6.18): how many
/// opcodes it has, and every setup, feature, enter and SQE flag bit it
/// takes. Before 6.18 the kernel refuses the query (`EINVAL`); a
/// [`Probe`] of a ring answers which ops it supports on every kernel.
///
/// ```
/// use uring::{Query, SetupFlags, ops::Nop};
/// match Query::kernel() {
///     Ok(query) => {
///         assert!(query.knows::<Nop>());
///         println!("mixed CQEs: {}", query.takes_setup(SetupFlags::CQE_MIXED));
///     }
///     Err(e) => println!("no query on this kernel: {e}"),
/// }
/// ```
#[derive(Clone, Copy)]
pub struct Query {
    raw: sys::io_uring_query_opcode,
}

impl Query {
    /// Asks the running kernel.
    pub fn kernel() -> Result<Query> {
        let mut raw = sys::io_uring_query_opcode::default();
        let mut hdr = sys::io_uring_query_hdr {
            query_data: &mut raw as *mut sys::io_uring_query_opcode as u64,
            query_op: sys::IO_URING_QUERY_OPCODES,
            size: mem::size_of::<sys::io_uring_query_opcode>() as u32,
            ..Default::default()
        };
        // SAFETY: the header and the answer's room are this frame's, alive
        // for the call, and sized as the header says; the query names no
        // ring (descriptor -1) and keeps no pointer past the call.
        unsafe {
            sys::io_uring_register(
                -1,
                sys::IORING_REGISTER_QUERY,
                (&mut hdr as *mut sys::io_uring_query_hdr).cast(),
                0,
            )
        }
        .map_err(|e| Error::os("IORING_REGISTER_QUERY", e))?;
        if hdr.result < 0 {
            return Err(Error::os(
                "IORING_REGISTER_QUERY",
                std::io::Error::from_raw_os_error(-hdr.result),
            ));
        }
        Ok(Query { raw })
    }

    /// The number of `IORING_OP_*` opcodes the kernel knows: opcodes
    /// `0..n`.
    pub fn opcodes(&self) -> u32 {
        self.raw.nr_request_opcodes
    }

    /// Whether the kernel knows the opcode of `E` (it may still refuse it,
    /// if built without it: a [`Probe`] says whether it is supported).
    pub fn knows<E: Entry>(&self) -> bool {
        u32::from(E::CODE) < self.raw.nr_request_opcodes
    }

    /// The number of `IORING_[UN]REGISTER_*` opcodes the kernel knows.
    pub fn register_opcodes(&self) -> u32 {
        self.raw.nr_register_opcodes
    }

    /// Whether the kernel has every one of `features`.
    pub fn has(&self, features: Features) -> bool {
        self.raw.feature_flags & u64::from(features.bits()) == u64::from(features.bits())
    }

    /// Whether the kernel takes every one of `flags` at setup.
    pub fn takes_setup(&self, flags: SetupFlags) -> bool {
        self.raw.ring_setup_flags & u64::from(flags.bits()) == u64::from(flags.bits())
    }

    /// Every `IORING_ENTER_*` bit the kernel takes.
    pub fn enter_flags(&self) -> u64 {
        self.raw.enter_flags
    }

    /// Every `IOSQE_*` bit the kernel takes.
    pub fn sqe_flags(&self) -> u64 {
        self.raw.sqe_flags
    }

    /// The number of `IO_URING_QUERY_*` opcodes the kernel knows.
    pub fn query_opcodes(&self) -> u32 {
        self.raw.nr_query_opcodes
    }

    /// The kernel's answer as it gave it.
    pub fn as_raw(&self) -> &sys::io_uring_query_opcode {
        &self.raw
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("opcodes", &self.raw.nr_request_opcodes)
            .field("register_opcodes", &self.raw.nr_register_opcodes)
            .field("features", &format_args!("{:#x}", self.raw.feature_flags))
            .field(
                "setup_flags",
                &format_args!("{:#x}", self.raw.ring_setup_flags),
            )
            .field("enter_flags", &format_args!("{:#x}", self.raw.enter_flags))
            .field("sqe_flags", &format_args!("{:#x}", self.raw.sqe_flags))
            .field("query_opcodes", &self.raw.nr_query_opcodes)
            .finish()
    }
}
