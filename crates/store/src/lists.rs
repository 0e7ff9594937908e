//! Statements over lists of values, for group commit (`committer`).
//!
//! A batch reads and writes with one statement per kind of row instead of one per send, so
//! those statements carry lists whose length follows the batch. Two costs follow, and both
//! are handled here:
//!
//! - **Preparing.** A statement with a new text is parsed and planned again, and with hundreds
//!   of parameters that costs more than running it. Lists are therefore padded to one of a few
//!   lengths ([`padded`]: 1, 4, 16, 64, 256, 1,024), so each statement has at most six texts,
//!   which stay in the connection's prepared-statement cache. Reads pad by repeating their last
//!   item (a repeated key finds the same row again); inserts pad with rows of nulls that a
//!   `where … is not null` leaves out.
//! - **Numbering.** SQLite looks a named parameter (`$12`) up by name while parsing, which is
//!   quadratic in their number; positional `?` is not. PostgreSQL needs `$n`. [`Params`] writes
//!   whichever the backend wants, numbered in the order of the text, so values are bound in
//!   that order on both.

use crate::Backend;

/// The length a list of `n` items is padded to.
pub(crate) fn padded(n: usize) -> usize {
    let mut size = 1;
    while size < n {
        size *= 4;
    }
    size
}

/// Writes the placeholders of one statement, in text order.
pub(crate) struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend, next: 1 }
    }

    /// The next placeholder.
    pub(crate) fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `rows` tuples of `columns` placeholders: `(?, ?), (?, ?)`; without parentheses for one
    /// column (`?, ?`, for `in (…)`).
    pub(crate) fn rows(&mut self, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * (columns * 6 + 4));
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            if columns > 1 {
                out.push('(');
            }
            for column in 0..columns {
                if column > 0 {
                    out.push_str(", ");
                }
                out.push_str(&self.one());
            }
            if columns > 1 {
                out.push(')');
            }
        }
        out
    }
}

/// `items` followed by copies of its last item up to [`padded`] length (empty stays empty).
pub(crate) fn pad_with_last<T: Clone>(mut items: Vec<T>) -> Vec<T> {
    if let Some(last) = items.last().cloned() {
        items.resize(padded(items.len()), last);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_padded_to_a_power_of_four() {
        let sizes: Vec<usize> = [1, 2, 4, 5, 16, 17, 100, 256, 257, 512]
            .iter()
            .map(|&n| padded(n))
            .collect();
        assert_eq!(sizes, [1, 4, 4, 16, 16, 64, 256, 256, 1024, 1024]);
        assert_eq!(pad_with_last(vec![1, 2]), [1, 2, 2, 2]);
        assert!(pad_with_last(Vec::<i32>::new()).is_empty());
    }

    #[test]
    fn placeholders_are_positional_on_sqlite_and_numbered_on_postgres() {
        let mut sqlite = Params::new(Backend::Sqlite);
        assert_eq!(sqlite.one(), "?");
        assert_eq!(sqlite.rows(2, 2), "(?, ?), (?, ?)");
        let mut postgres = Params::new(Backend::Postgres);
        assert_eq!(postgres.one(), "$1");
        assert_eq!(postgres.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(postgres.rows(2, 1), "$6, $7");
    }
}
