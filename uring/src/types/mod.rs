//! The values ops are built from, one concept a module: targets, SQE and op
//! flags, timespecs, provided-buffer selections and socket addresses.

mod addr;
mod flags;
mod integrity;
mod select;
mod target;
mod time;

pub use addr::{SockAddr, SockAddrBuf};
pub use flags::*;
pub use integrity::{PiAttr, PiRef};
pub use select::{BufferGroup, BufferPool, BufferSelect};
pub(crate) use target::private;
pub use target::{
    Fd, FdTarget, Fixed, FixedMut, FixedTarget, FromRegisterFiles, IntoFd, IntoFixed, IntoOwnedFd,
    IntoOwnedTarget, IntoTarget, Target,
};
pub(crate) use time::Deadline;
pub use time::{Clock, Timespec};
