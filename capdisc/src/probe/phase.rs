//! Marking the phase of a service's life a trial is in (`capdisc_common::phase`): the target
//! cgroup's state in the kernel's maps moves to `RECORDING + phase`, and every check from then
//! on carries that phase in its key (no extra work per check: the filter reads the state anyway).
//! The marker holds its own handles on the two maps (opened by id), so the code that runs the
//! phases can mark them while the session owns the loaded programs.
use std::{cell::RefCell, rc::Rc};

use aya::{
    maps::{Array, HashMap, Map, MapData},
    Ebpf,
};
use capdisc_common::cgroup_state;

use crate::error::Error;

struct Handles {
    cgroup_id: u64,
    cgroups: HashMap<MapData, u64, u8>,
    single: Array<MapData, u8>,
}

/// A shared, cloneable marker: attached when the session has loaded the programs, a no-op before.
#[derive(Clone, Default)]
pub struct PhaseMarker(Rc<RefCell<Option<Handles>>>);

impl PhaseMarker {
    /// Opens the target maps of the loaded programs for the one target cgroup `cgroup_id`.
    pub fn attach(&self, ebpf: &Ebpf, cgroup_id: u64) -> Result<(), Error> {
        let open = |name: &str| -> Result<MapData, Error> {
            let map = ebpf.map(name).ok_or_else(|| Error::Runtime(format!("map {name} missing from the eBPF object")))?;
            let data = match map {
                Map::HashMap(data) | Map::Array(data) => data,
                _ => return Err(Error::Runtime(format!("map {name} is not a hash or array map"))),
            };
            let id = data.info().map_err(|err| Error::io(format!("cannot read map {name}"), err))?.id();
            MapData::from_id(id).map_err(|err| Error::io(format!("cannot open map {name} by id"), err))
        };
        let cgroups = HashMap::try_from(Map::HashMap(open("CGROUPS")?)).map_err(|err| Error::io("cannot open map CGROUPS", err))?;
        let single = Array::try_from(Map::Array(open("SINGLE_STATE")?)).map_err(|err| Error::io("cannot open map SINGLE_STATE", err))?;
        self.0.replace(Some(Handles { cgroup_id, cgroups, single }));
        Ok(())
    }

    /// From now on the target's checks are counted in `phase`. Only once the target is
    /// recording (its first exec happened): a target still waiting for its exec is left so.
    pub fn enter(&self, phase: u32) {
        let mut handles = self.0.borrow_mut();
        let Some(handles) = handles.as_mut() else { return };
        let recording = |state: u8| state >= cgroup_state::RECORDING;
        let state = cgroup_state::RECORDING + phase as u8;
        if handles.cgroups.get(&handles.cgroup_id, 0).is_ok_and(recording) {
            let _ = handles.cgroups.insert(handles.cgroup_id, state, 0);
        }
        if handles.single.get(&0, 0).is_ok_and(recording) {
            let _ = handles.single.set(0, state, 0);
        }
    }
}
