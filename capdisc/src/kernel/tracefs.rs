//! tracefs: mounting it when missing, and reading tracepoint field offsets from `format` files
//! (never hard-coded: they differ between kernels).
use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::error::Error;

const MOUNT_POINTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs directory, mounting tracefs at /sys/kernel/tracing when it is not mounted.
/// Returns the path and whether capdisc mounted it.
pub fn ensure_mounted() -> Result<(PathBuf, bool), Error> {
    for candidate in MOUNT_POINTS {
        if Path::new(candidate).join("events").is_dir() {
            return Ok((PathBuf::from(candidate), false));
        }
    }
    let target = std::ffi::CString::new(MOUNT_POINTS[0]).expect("static path has no NUL");
    let rc = unsafe { libc::mount(c"nodev".as_ptr(), target.as_ptr(), c"tracefs".as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        // Another process (a second capdisc) may have mounted it at the same moment.
        let error = std::io::Error::last_os_error();
        if let Some(mounted) = MOUNT_POINTS.iter().find(|candidate| Path::new(candidate).join("events").is_dir()) {
            return Ok((PathBuf::from(mounted), false));
        }
        return Err(Error::Kernel(format!(
            "tracefs is not mounted and mounting it at {} failed ({}); mount it with `mount -t tracefs nodev /sys/kernel/tracing`",
            MOUNT_POINTS[0], error
        )));
    }
    Ok((PathBuf::from(MOUNT_POINTS[0]), true))
}

/// Whether the tracepoint `category:name` exists.
pub fn has_event(tracefs: &Path, category: &str, name: &str) -> bool {
    tracefs.join("events").join(category).join(name).join("format").is_file()
}

/// Field offsets of a tracepoint, parsed from its `format` file.
pub struct Format {
    fields: Vec<(String, u32)>,
}

impl Format {
    pub fn read(tracefs: &Path, category: &str, name: &str) -> Result<Self, Error> {
        let path = tracefs.join("events").join(category).join(name).join("format");
        let text = fs::read_to_string(&path)
            .map_err(|err| Error::input(format!("cannot read the tracepoint format {}", path.display()), err, ""))?;
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .filter_map(|line| {
                let line = line.trim().strip_prefix("field:")?;
                let mut parts = line.split(';').map(str::trim);
                let declaration = parts.next()?;
                let offset = parts.next()?.strip_prefix("offset:")?.parse().ok()?;
                let name = declaration.split_whitespace().last()?;
                let name = name.split('[').next()?.to_owned();
                Some((name, offset))
            })
            .collect();
        Self { fields }
    }

    pub fn offset(&self, field: &str) -> Result<u32, Error> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, offset)| *offset)
            .ok_or_else(|| Error::Kernel(format!("tracepoint field `{field}` not found in its format file")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP_CAPABLE: &str = "name: cap_capable\nID: 1234\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:const struct cred * cred;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:struct user_namespace * target_ns;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const struct user_namespace * capable_ns;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:int cap;\toffset:32;\tsize:4;\tsigned:1;\n\tfield:int ret;\toffset:36;\tsize:4;\tsigned:1;\n";

    #[test]
    fn reads_offsets_from_the_format() {
        let format = Format::parse(CAP_CAPABLE);
        assert_eq!(format.offset("cap").ok(), Some(32));
        assert_eq!(format.offset("ret").ok(), Some(36));
        assert_eq!(format.offset("target_ns").ok(), Some(16));
        assert!(format.offset("opts").is_err());
    }

    #[test]
    fn strips_array_suffixes() {
        let format = Format::parse("\tfield:char parent_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;");
        assert_eq!(format.offset("parent_comm").ok(), Some(8));
        assert_eq!(format.offset("filename").ok(), Some(8));
    }
}
