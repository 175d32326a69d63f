//! Argument types of the less common ops: registered-file slots, message
//! headers, futexes, splices, process and driver commands, and the memory
//! structures the kernel reads or fills.

mod kernel;
mod msg;
mod slots;

pub use kernel::{FutexWaitV, MadviseRange, SpliceSource, UringCmdOp, WaitIdTarget};
pub use msg::{MsgHdr, MsgHdrMut};
pub use slots::{DirectSlot, FileUpdates, FilesAt, FixedBuf};
