//! A minimal reader of the kernel's BTF (/sys/kernel/btf/vmlinux): byte offsets of named
//! members of a named struct. capdisc uses it for `struct cred`, so `trace` can read the five
//! capability sets the kernel checked, at the moment of a denial.
use std::collections::HashMap;

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;

/// Member name -> byte offset, for the first struct called `name`.
pub fn struct_members(data: &[u8], name: &str) -> Option<HashMap<String, u32>> {
    let u16_at = |at: usize| data.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| data.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if u16_at(0)? != MAGIC {
        return None;
    }
    let header_len = u32_at(4)? as usize;
    let (type_off, type_len, str_off) = (u32_at(8)? as usize, u32_at(12)? as usize, u32_at(16)? as usize);
    let types = header_len + type_off;
    let strings = header_len + str_off;
    let string = |offset: u32| -> Option<&str> {
        let start = strings + offset as usize;
        let end = start + data.get(start..)?.iter().position(|b| *b == 0)?;
        std::str::from_utf8(&data[start..end]).ok()
    };
    let mut at = types;
    while at + 12 <= types + type_len {
        let (name_off, info) = (u32_at(at)?, u32_at(at + 4)?);
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let kind_flag = info >> 31 == 1;
        let body = at + 12;
        if kind == KIND_STRUCT && string(name_off) == Some(name) {
            let mut members = HashMap::new();
            for index in 0..vlen {
                let member = body + index * 12;
                let bits = u32_at(member + 8)?;
                let bit_offset = if kind_flag { bits & 0x00ff_ffff } else { bits };
                if let Some(member_name) = string(u32_at(member)?) {
                    members.insert(member_name.to_owned(), bit_offset / 8);
                }
            }
            return Some(members);
        }
        at = body + extra_len(kind, vlen)?;
    }
    None
}

/// Bytes that follow `struct btf_type` for each kind (include/uapi/linux/btf.h).
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,           // INT, VAR, DECL_TAG
        3 => 12,                    // ARRAY
        4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => vlen * 8,         // ENUM, FUNC_PROTO
        2 | 7..=12 | 16 | 18 => 0,  // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

/// Offset of `comm` in `struct task_struct`.
pub fn task_comm_offset() -> Option<u32> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    struct_members(&data, "task_struct")?.get("comm").copied()
}

/// Offsets in `struct cred` of euid and the five sets, from the running kernel's BTF.
pub fn cred_offsets() -> Option<[u32; 6]> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    let members = struct_members(&data, "cred")?;
    let get = |name: &str| members.get(name).copied();
    Some([get("euid")?, get("cap_inheritable")?, get("cap_permitted")?, get("cap_effective")?, get("cap_bset")?, get("cap_ambient")?])
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_cred_in_the_running_kernel() {
        // Every kernel capdisc supports has BTF; the sets follow euid in struct cred.
        let [euid, inh, prm, eff, bnd, amb] = super::cred_offsets().expect("struct cred in /sys/kernel/btf/vmlinux");
        assert!(euid < inh && inh < prm && prm < eff && eff < bnd && bnd < amb, "{euid} {inh} {prm} {eff} {bnd} {amb}");
        assert_eq!((prm - inh, eff - prm, bnd - eff, amb - bnd), (8, 8, 8, 8), "kernel_cap_t is 64 bits");
    }
}
