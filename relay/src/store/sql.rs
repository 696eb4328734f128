//! SQL built up from parts, for queries whose shape depends on what was
//! asked (filters, cursors, search terms). Every value is bound: a part
//! asks [`Sql::value`] for the next `$n` and writes only that into the
//! text, so nothing a client sent is ever spliced into SQL.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A value bound to one placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Bound {
    Text(String),
    Int(i64),
}

impl From<&str> for Bound {
    fn from(s: &str) -> Self {
        Bound::Text(s.to_string())
    }
}

impl From<String> for Bound {
    fn from(s: String) -> Self {
        Bound::Text(s)
    }
}

impl From<i64> for Bound {
    fn from(n: i64) -> Self {
        Bound::Int(n)
    }
}

#[derive(Debug, Default)]
pub(super) struct Sql {
    text: String,
    values: Vec<Bound>,
}

impl Sql {
    pub(super) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Binds `value` and returns its placeholder, to be written (once or
    /// several times) into the text.
    pub(super) fn value(&mut self, value: impl Into<Bound>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Binds each of `values` and returns their placeholders as a list for
    /// `IN (...)`.
    pub(super) fn list<V: Into<Bound>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values
            .into_iter()
            .map(|v| self.value(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[cfg(test)]
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for value in &self.values {
            query = match value {
                Bound::Text(s) => query.bind(s.clone()),
                Bound::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

/// `conditions` joined by AND, or a condition that always holds.
pub(super) fn all_of(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "1 = 1".to_string()
    } else {
        conditions.join(" AND ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_numbered_placeholders_in_the_order_bound() {
        let mut sql = Sql::default();
        sql.push("SELECT 1 WHERE ");
        let a = sql.value("x'; DROP TABLE tickets; --");
        let list = sql.list([1i64, 2]);
        sql.push(&format!("a = {a} AND b IN ({list}) AND c = {a}"));
        assert_eq!(
            sql.text(),
            "SELECT 1 WHERE a = $1 AND b IN ($2, $3) AND c = $1"
        );
        assert_eq!(
            sql.values,
            vec![
                Bound::Text("x'; DROP TABLE tickets; --".into()),
                Bound::Int(1),
                Bound::Int(2)
            ]
        );
        assert_eq!(all_of(&[]), "1 = 1");
        assert_eq!(all_of(&["a".into(), "b".into()]), "a AND b");
    }
}
