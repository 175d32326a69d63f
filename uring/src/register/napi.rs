//! NAPI busy polling (`IORING_REGISTER_NAPI`): a ring's waits spin on the
//! network devices' receive queues before they sleep.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::ring::Ring;
use crate::sys;
use std::time::Duration;

/// Which NAPI instances (a network device's receive queues, named by NAPI
/// ids) a ring's waits busy-poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NapiTracking {
    /// Those of the sockets the ring's ops touch, which the kernel adds as
    /// it meets them and drops once unused for a while
    /// (`IO_URING_NAPI_TRACKING_DYNAMIC`): what
    /// [`Ring::register_napi`] sets.
    Dynamic,
    /// Only the ids added with [`Ring::napi_add_id`]
    /// (`IO_URING_NAPI_TRACKING_STATIC`, 6.13): the kernel looks up no
    /// socket's id per op.
    Static,
    /// None: busy polling is off. A ring starts so, and
    /// [`Ring::unregister_napi`] leaves it so.
    Inactive,
}

impl NapiTracking {
    fn from_raw(raw: u32) -> NapiTracking {
        match raw {
            sys::IO_URING_NAPI_TRACKING_STATIC => NapiTracking::Static,
            sys::IO_URING_NAPI_TRACKING_INACTIVE => NapiTracking::Inactive,
            _ => NapiTracking::Dynamic,
        }
    }
}

/// A ring's NAPI busy-poll settings: what [`Ring::register_napi_with`]
/// sets, and what it reports was in force before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NapiSettings {
    /// How long a wait busy-polls before it sleeps (in whole microseconds;
    /// Linux 6.18 keeps at most 10 ms).
    pub busy_poll: Duration,
    /// Whether to prefer busy polling to the device's interrupts
    /// (`SO_PREFER_BUSY_POLL`'s meaning).
    pub prefer_busy_poll: bool,
    /// Which NAPI instances are polled.
    pub tracking: NapiTracking,
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Busy-polls the network device for `busy_poll` before sleeping in a
    /// wait (`IORING_REGISTER_NAPI`, 6.9); with `prefer_busy_poll`, prefers
    /// busy polling to interrupts. The NAPI instances polled are those of
    /// the sockets the ring's ops touch ([`NapiTracking::Dynamic`]).
    /// Returns the settings in force before.
    pub fn register_napi(
        &mut self,
        busy_poll: Duration,
        prefer_busy_poll: bool,
    ) -> Result<(Duration, bool)> {
        let before = self.register_napi_with(NapiSettings {
            busy_poll,
            prefer_busy_poll,
            tracking: NapiTracking::Dynamic,
        })?;
        Ok((before.busy_poll, before.prefer_busy_poll))
    }

    /// Stops busy polling (`IORING_UNREGISTER_NAPI`), and drops every NAPI
    /// id tracked. Returns the busy-poll time and preference in force
    /// before (zero and `false` when none were registered; the kernel does
    /// not report the tracking).
    pub fn unregister_napi(&mut self) -> Result<(Duration, bool)> {
        let mut napi = sys::io_uring_napi::default();
        self.napi_call(
            sys::IORING_UNREGISTER_NAPI,
            "IORING_UNREGISTER_NAPI",
            &mut napi,
        )?;
        Ok((
            Duration::from_micros(u64::from(napi.busy_poll_to)),
            napi.prefer_busy_poll != 0,
        ))
    }

    /// Busy-polls the NAPI instances `settings.tracking` names for
    /// `settings.busy_poll` before a wait sleeps (`IORING_REGISTER_NAPI`,
    /// 6.9; static tracking 6.13, before which the kernel refuses it with
    /// `EINVAL`). Returns the settings in force before; kernels before
    /// 6.13 report their tracking as [`NapiTracking::Dynamic`] whatever it
    /// was. Switching tracking drops every id the ring tracked.
    ///
    /// [`NapiTracking::Inactive`] is refused
    /// ([`Error::InvalidArgument`]): [`unregister_napi`](Ring::unregister_napi)
    /// turns busy polling off.
    pub fn register_napi_with(&mut self, settings: NapiSettings) -> Result<NapiSettings> {
        let tracking = match settings.tracking {
            NapiTracking::Dynamic => sys::IO_URING_NAPI_TRACKING_DYNAMIC,
            NapiTracking::Static => sys::IO_URING_NAPI_TRACKING_STATIC,
            NapiTracking::Inactive => {
                return Err(Error::InvalidArgument(
                    "NAPI tracking `Inactive` is not registered: unregister_napi turns busy \
                     polling off"
                        .into(),
                ));
            }
        };
        let mut napi = sys::io_uring_napi {
            busy_poll_to: u32::try_from(settings.busy_poll.as_micros()).unwrap_or(u32::MAX),
            prefer_busy_poll: u8::from(settings.prefer_busy_poll),
            opcode: sys::IO_URING_NAPI_REGISTER_OP,
            op_param: tracking,
            ..Default::default()
        };
        self.napi_call(sys::IORING_REGISTER_NAPI, "IORING_REGISTER_NAPI", &mut napi)?;
        Ok(NapiSettings {
            busy_poll: Duration::from_micros(u64::from(napi.busy_poll_to)),
            prefer_busy_poll: napi.prefer_busy_poll != 0,
            tracking: NapiTracking::from_raw(napi.op_param),
        })
    }

    /// Adds NAPI id `id` (a socket's `SO_INCOMING_NAPI_ID`) to those a ring
    /// with [`NapiTracking::Static`] busy-polls
    /// (`IO_URING_NAPI_STATIC_ADD_ID`, 6.13). The kernel refuses it with
    /// `EINVAL` on a ring not tracking statically and for an id no device
    /// can have (below `MIN_NAPI_ID`; loopback's sockets report 0), with
    /// `EEXIST` for an id already added.
    pub fn napi_add_id(&mut self, id: u32) -> Result<()> {
        self.napi_id_call(sys::IO_URING_NAPI_STATIC_ADD_ID, id)
    }

    /// Removes NAPI id `id` from those a ring with
    /// [`NapiTracking::Static`] busy-polls (`IO_URING_NAPI_STATIC_DEL_ID`,
    /// 6.13). The kernel refuses it with `ENOENT` for an id not added, and
    /// with `EINVAL` on a ring not tracking statically.
    pub fn napi_del_id(&mut self, id: u32) -> Result<()> {
        self.napi_id_call(sys::IO_URING_NAPI_STATIC_DEL_ID, id)
    }

    fn napi_id_call(&mut self, opcode: u8, id: u32) -> Result<()> {
        let mut napi = sys::io_uring_napi {
            opcode,
            op_param: id,
            ..Default::default()
        };
        self.napi_call(sys::IORING_REGISTER_NAPI, "IORING_REGISTER_NAPI", &mut napi)
    }

    /// One `IORING_(UN)REGISTER_NAPI` call (`opcode`, named `name`); the
    /// kernel writes the settings in force before into `napi`.
    fn napi_call(
        &mut self,
        opcode: u32,
        name: &'static str,
        napi: &mut sys::io_uring_napi,
    ) -> Result<()> {
        self.register(opcode, (napi as *mut sys::io_uring_napi).cast(), 1, name)
            .map(drop)
    }
}
