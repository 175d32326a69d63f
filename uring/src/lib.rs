//! Linux io_uring, with the mistakes that other io_uring libraries only
//! document rejected by the compiler.
//!
//! - An op's type knows whether it targets a raw descriptor ([`Fd`]) or a
//!   registered file ([`Fixed`]); the `IOSQE_FIXED_FILE` bit follows from it,
//!   and a `Fixed` can only come from the handle registration returned.
//! - A chain's type knows what it ends with: a link timeout can only follow
//!   a linked op, and a chain is pushed all or nothing.
//! - Timespecs the kernel reads at submission live in the ring, so
//!   `op.timeout(Duration::from_millis(5))` is correct with nothing for the
//!   caller to keep alive.
//! - Buffers are lent safely in a [`Ring::scope`]: the borrow checker keeps
//!   them alive and untouched, and the scope does not return before the
//!   kernel is done with them. [`Ring::push_unchecked`] is the `unsafe`
//!   zero-cost floor beneath.
//! - Every kernel opcode is declared once, in [`ops`](mod@ops), by the [`ops!`] macro,
//!   which a user crate can use to declare ops of its own.
//!
//! ```
//! use std::time::Duration;
//! use uring::{Ring, ops::{Nop, Timeout}};
//!
//! # fn main() -> uring::Result<()> {
//! let mut ring = Ring::new(8)?;
//! ring.push(Nop::new().user_data(1).timeout(Duration::from_secs(1)))?;
//! ring.push(Timeout::new(Duration::from_millis(1)).user_data(3))?;
//! ring.submit_and_wait(3)?;
//! let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
//! done.sort();
//! // The NOP ran; its link timeout was cancelled (user_data 0); the timeout fired.
//! assert_eq!(done, [(0, -libc::ECANCELED), (1, 0), (3, -libc::ETIME)]);
//! # Ok(())
//! # }
//! ```
//!
//! The layers, bottom up: [`sys`] (the kernel ABI and the three system
//! calls), [`Ring`] with its [`Builder`] and [`Params`], the submission and
//! completion queues behind [`Ring::push`] and [`Ring::completions`],
//! registration ([`Ring::register_files`], [`Ring::probe`], ...), the op
//! table [`ops`](mod@ops), the typestate ([`Target`], [`Link`]), the
//! safe surface for borrowed buffers ([`Scope`]), and above the ring the
//! event loop: [`reactor`] (callbacks, deadlines, cancels and futures over
//! ops that own their memory, tasks and timers), [`net`] (TCP, UDP and
//! Unix sockets over it; tokio's `AsyncRead` / `AsyncWrite` with the
//! `tokio` feature) and [`fs`] (files and directories over it).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate self as uring;

#[macro_use]
mod macros;

mod args;
mod buf_ring;
mod buf_ring_raw;
mod builder;
mod chain;
mod cqueue;
mod entries;
mod error;
pub mod fs;
mod mmap;
pub mod net;
pub mod op;
pub mod ops;
mod params;
mod probe;
pub mod reactor;
mod register;
mod ring;
mod scope;
mod squeue;
mod submit;
pub mod sys;
mod types;
mod wait;

pub use args::{
    AsSocket, BlockDevice, CancelFile, CancelOpcode, CancelUserData, Cmd16, Cmd80, ControlMessage,
    ControlMessages, ControlMessagesBuf, DirectSlot, FileUpdates, FilesAt, FixedBuf, FutexWaitV,
    MadviseRange, MsgHdr, MsgHdrMut, MsgLayout, NopBigCqe, NopBuffer, NopResult, NopTaskWork,
    NvmeCmd, PassCqeFlags, PipeFds, PipeSlots, PollEventsUpdate, RecvMsgOut, RingSlot, ScmRights,
    SockOpt, SocketDomain, SocketFd, SocketType, SpliceSource, TimestampType, TxTimestampCqe,
    UringCmdOp, UserDataUpdate, WaitIdTarget,
};
pub use buf_ring::{Buf, BufRing, ClaimFrom, MAX_BUF_RING_BUFFER_LEN, MAX_BUF_RING_BUFFERS};
pub use buf_ring_raw::RawBufRing;
pub use builder::{Builder, RingRegion};
pub use chain::{Either, Link, Linked};
pub use cqueue::{Completions, Cqe};
pub use entries::{BigCqe, Cqe16, Cqe32, CqeMixed, CqeSize, Sqe64, Sqe128, SqeSize, UniformCqe};
pub use error::{Error, HandleError, PushError, PushErrorKind, Result};
pub use op::{Scoped, Submission, Unborrowed};
pub use params::{Features, Params, SetupFlags};
pub use probe::{Probe, Query};
pub use register::{
    FixedBuffers, FixedFiles, IoWqWorkers, NapiSettings, NapiTracking, Personality, Restriction,
    SlotUpdate, SyncCancel,
};
pub use ring::{Ring, RingTarget};
pub use scope::{OwnedPush, Scope, ScopeCompletions, ScopeCqe, ScopeSubmissionQueue};
pub use squeue::{SubmissionQueue, VacantSqe};
pub use types::{
    AcceptFlags, BufferGroup, BufferPool, BufferSelect, BufferSelectBit, CancelFlags, Clock, Fd,
    Fixed, FixedFileBit, FixedMut, FromRegisterFiles, FsyncFlags, FutexFlags, InstallFlags,
    IntegrityFlags, IntoFd, IntoFixed, IntoOwnedFd, IntoOwnedTarget, IntoTarget, IoHardlinkBit,
    IoLinkBit, MsgFlags, MsgRingFlags, PiAttr, PiRef, PollEvents, PollFlags, RecvFlags, RwFlags,
    SendFlags, SendZcFlags, SockAddr, SockAddrBuf, SpliceFlags, SqeFlags, Target, TimeoutFlags,
    Timespec,
};
pub use wait::WaitArgs;

pub use io_uring_macros::ops;
