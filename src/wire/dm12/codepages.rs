//! The WBXML tag code pages of SyncML 1.2 (digest §10.3–§10.5; RTK, libwbxml and WOS agree):
//! page 0 SyncML (namespace `SYNCML:SYNCML1.2`), page 1 MetInf (`syncml:metinf`), page 2 DM
//! DDF (`syncml:dmddf1.2`, TNDS documents only: never switched to inside a DM message).

/// Namespace of page 0, the messages' default namespace.
pub const NS_SYNCML: &str = "SYNCML:SYNCML1.2";
/// Namespace of page 1, declared on the Meta children of a message.
pub const NS_METINF: &str = "syncml:metinf";
/// WBXML public id of a SyncML 1.2 document (`-//SYNCML//DTD SyncML 1.2//EN`).
pub const PUBLIC_ID_SYNCML_12: u32 = 0x1201;
/// Public ids of the earlier SyncML versions a DM 1.1.2 peer may send (digest §10.1).
pub const PUBLIC_ID_SYNCML_11: u32 = 0x0FD3;
pub const PUBLIC_ID_SYNCML_10: u32 = 0x0FD1;
/// The formal public identifier libwbxml may put in the string table instead of the id.
pub const FPI_SYNCML_12: &str = "-//SYNCML//DTD SyncML 1.2//EN";
/// IANA MIBenum of UTF-8, the only charset SyncML DM messages use.
pub const CHARSET_UTF8: u32 = 106;

/// Page 0, tokens 0x05..=0x3C (0x30 reserved).
const SYNCML: [&str; 56] = [
    "Add",
    "Alert",
    "Archive",
    "Atomic",
    "Chal",
    "Cmd",
    "CmdID",
    "CmdRef",
    "Copy",
    "Cred",
    "Data",
    "Delete",
    "Exec",
    "Final",
    "Get",
    "Item",
    "Lang",
    "LocName",
    "LocURI",
    "Map",
    "MapItem",
    "Meta",
    "MsgID",
    "MsgRef",
    "NoResp",
    "NoResults",
    "Put",
    "Replace",
    "RespURI",
    "Results",
    "Search",
    "Sequence",
    "SessionID",
    "SftDel",
    "Source",
    "SourceRef",
    "Status",
    "Sync",
    "SyncBody",
    "SyncHdr",
    "SyncML",
    "Target",
    "TargetRef",
    "",
    "VerDTD",
    "VerProto",
    "NumberOfChanges",
    "MoreData",
    "Field",
    "Filter",
    "Record",
    "FilterType",
    "SourceParent",
    "TargetParent",
    "Move",
    "Correlator",
];

/// Page 1, tokens 0x05..=0x16.
const METINF: [&str; 18] = [
    "Anchor",
    "EMI",
    "Format",
    "FreeID",
    "FreeMem",
    "Last",
    "Mark",
    "MaxMsgSize",
    "Mem",
    "MetInf",
    "Next",
    "NextNonce",
    "SharedMem",
    "Size",
    "Type",
    "Version",
    "MaxObjSize",
    "FieldLevel",
];

/// A tag code page of a DM message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    SyncMl = 0,
    MetInf = 1,
}

impl Page {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Page> {
        match n {
            0 => Some(Page::SyncMl),
            1 => Some(Page::MetInf),
            _ => None,
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            Page::SyncMl => NS_SYNCML,
            Page::MetInf => NS_METINF,
        }
    }

    fn table(self) -> &'static [&'static str] {
        match self {
            Page::SyncMl => &SYNCML,
            Page::MetInf => &METINF,
        }
    }
}

/// The tag of `token` (its low six bits) on `page`.
pub fn tag_name(page: Page, token: u8) -> Option<&'static str> {
    let i = usize::from(token & 0x3F).checked_sub(5)?;
    page.table().get(i).copied().filter(|n| !n.is_empty())
}

/// The page and token of a tag (the two pages share no name).
pub fn token_of(name: &str) -> Option<(Page, u8)> {
    [Page::SyncMl, Page::MetInf].into_iter().find_map(|page| {
        let i = page.table().iter().position(|n| *n == name)?;
        Some((page, i as u8 + 5))
    })
}

/// Whether `namespace` is the SyncML namespace of some version: RTK compares only the prefix
/// `SYNCML:SYNCML`, case-insensitively (digest §3.1).
pub fn is_syncml_namespace(namespace: &str) -> bool {
    namespace.len() >= 13 && namespace[..13].eq_ignore_ascii_case("SYNCML:SYNCML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_hold_the_digests_tokens() {
        assert_eq!(tag_name(Page::SyncMl, 0x05), Some("Add"));
        assert_eq!(tag_name(Page::SyncMl, 0x2D), Some("SyncML"));
        assert_eq!(tag_name(Page::SyncMl, 0x30), None, "reserved");
        assert_eq!(tag_name(Page::SyncMl, 0x3C), Some("Correlator"));
        assert_eq!(tag_name(Page::SyncMl, 0x3D), None);
        assert_eq!(tag_name(Page::SyncMl, 0x04), None);
        assert_eq!(tag_name(Page::MetInf, 0x07), Some("Format"));
        assert_eq!(tag_name(Page::MetInf, 0x15), Some("MaxObjSize"));
        assert_eq!(tag_name(Page::MetInf, 0x16), Some("FieldLevel"));
        assert_eq!(tag_name(Page::MetInf, 0x17), None);
        // Content and attribute bits do not change the tag.
        assert_eq!(tag_name(Page::SyncMl, 0x6D), Some("SyncML"));
        for (page, table) in [(Page::SyncMl, &SYNCML[..]), (Page::MetInf, &METINF[..])] {
            for name in table.iter().filter(|n| !n.is_empty()) {
                let (p, t) = token_of(name).unwrap();
                assert_eq!((p, tag_name(p, t)), (page, Some(*name)));
            }
        }
    }

    #[test]
    fn namespaces_of_any_syncml_version_are_syncml() {
        assert!(is_syncml_namespace("SYNCML:SYNCML1.2"));
        assert!(is_syncml_namespace("syncml:syncml1.1"));
        assert!(!is_syncml_namespace("syncml:metinf"));
        assert!(!is_syncml_namespace("SYNCML"));
    }
}
