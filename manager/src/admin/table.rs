//! A tiny aligned text table for admin output, so operators can read columns at a glance and
//! scripts can still split on whitespace.

use std::fmt;

/// Header plus rows of text cells; [`fmt::Display`] pads every column to its widest cell and
/// separates columns by two spaces (no trailing whitespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and no rows yet.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row. Short rows are padded with empty cells; extra cells get their own columns.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// True when no row was added (callers print a "nothing here" line instead).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths = Vec::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(max) if *max < w => *max = w,
                    Some(_) => {}
                    None => widths.push(w),
                }
            }
        }
        widths
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = width.saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(f, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_to_widest_cell() {
        let mut t = Table::new(["NAME", "PARTITIONS", "READY"]);
        t.row(["orders", "3", "yes"]).row(["a", "12", "no"]);
        assert_eq!(
            t.to_string(),
            "NAME    PARTITIONS  READY\n\
             orders  3           yes\n\
             a       12          no\n"
        );
    }

    #[test]
    fn ragged_rows_and_empty_table() {
        let mut t = Table::new(["A", "B"]);
        assert!(t.is_empty());
        assert_eq!(t.to_string(), "A  B\n");
        t.row(["x"]).row(["", "yy", "extra"]);
        assert!(!t.is_empty());
        assert_eq!(t.to_string(), "A  B\nx\n   yy  extra\n");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut t = Table::new(["É", "X"]);
        t.row(["ab", "1"]);
        assert_eq!(t.to_string(), "É   X\nab  1\n");
    }
}
