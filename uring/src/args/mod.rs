//! Argument types of the less common ops: registered-file slots, message
//! headers, futexes, splices, process and driver commands, and the memory
//! structures the kernel reads or fills.

mod cmd;
mod cmsg;
mod iovec;
mod kernel;
mod msg;
mod nop;
mod slots;
mod socket;
mod tx_timestamp;
mod update;

pub use cmd::{AsSocket, BlockDevice, Cmd16, Cmd80, NvmeCmd, SockOpt, SocketFd, UringCmdOp};
pub use cmsg::{ControlMessage, ControlMessages, ControlMessagesBuf, ScmRights};
pub use kernel::{FutexWaitV, MadviseRange, PipeFds, SpliceSource, WaitIdTarget};
pub(crate) use msg::cmsg_records;
pub use msg::{MsgHdr, MsgHdrMut, MsgLayout, RecvMsgOut};
pub use nop::{NopBigCqe, NopBuffer, NopResult, NopTaskWork};
pub use slots::{DirectSlot, FileUpdates, FilesAt, FixedBuf, PipeSlots, RingSlot};
pub use socket::{SocketDomain, SocketType};
pub use tx_timestamp::{TimestampType, TxTimestampCqe};
pub use update::{
    CancelFile, CancelOpcode, CancelUserData, PassCqeFlags, PollEventsUpdate, UserDataUpdate,
};
