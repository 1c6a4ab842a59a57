//! Refusal of unknown setting keys, in one place for every section.
//!
//! serde's `deny_unknown_fields` cannot be combined with `flatten`, which the shared sections
//! need (see `sections`), so a typo is caught here instead: the keys a node knows are those of
//! its serialized defaults (every field, `None` included, serializes to a key).

use serde_json::Value;

/// The first key of `given` that `known` does not have, as a dotted path.
///
/// With `strict_top` an unknown section is reported too (a settings file: `[raf]` is a typo);
/// without it only keys inside known sections are (the environment: `RAFTBUS_PROFILE` and
/// other variables of the scripts share the prefix without naming a section).
pub(super) fn unknown_key(known: &Value, given: &Value, strict_top: bool) -> Option<String> {
    let (Value::Object(known), Value::Object(given)) = (known, given) else {
        return None;
    };
    for (section, keys) in given {
        match known.get(section) {
            Some(k) => {
                if let Some(path) = unknown_below(k, keys, section) {
                    return Some(path);
                }
            }
            None if strict_top => return Some(section.clone()),
            None => {}
        }
    }
    None
}

fn unknown_below(known: &Value, given: &Value, prefix: &str) -> Option<String> {
    let (Value::Object(known), Value::Object(given)) = (known, given) else {
        return None;
    };
    for (key, value) in given {
        let path = format!("{prefix}.{key}");
        match known.get(key) {
            Some(k) => {
                if let Some(p) = unknown_below(k, value, &path) {
                    return Some(p);
                }
            }
            None => return Some(path),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::unknown_key;

    #[test]
    fn reports_the_dotted_path_of_a_typo() {
        let known = json!({"raft": {"heartbeat_ms": 1, "x": null}, "node": {"id": 0}});
        let ok = json!({"raft": {"heartbeat_ms": 5, "x": "a"}});
        assert_eq!(unknown_key(&known, &ok, true), None);
        let typo = json!({"raft": {"heartbeat": 5}});
        assert_eq!(
            unknown_key(&known, &typo, false).as_deref(),
            Some("raft.heartbeat")
        );
        let section = json!({"raf": {"heartbeat_ms": 5}, "zprofile": "debug"});
        assert_eq!(unknown_key(&known, &section, false), None);
        assert_eq!(unknown_key(&known, &section, true).as_deref(), Some("raf"));
    }
}
