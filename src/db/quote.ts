/** How each engine quotes a table or column name, so any name a store holds is read as a name and nothing else. */

/** Standard SQL (PostgreSQL, SQLite): double quotes, a double quote inside doubled. */
export const quoteStandardIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** MySQL/MariaDB: backticks, a backtick inside doubled. */
export const quoteMySqlIdent = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

/** ClickHouse: backticks, a backslash or backtick inside escaped with a backslash. */
export const quoteClickHouseIdent = (name: string): string => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
