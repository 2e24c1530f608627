-- SQL functions the filter translation uses so that PostgreSQL answers a `$filter`/`$orderby`
-- exactly as the SQLite store does. Filter operands are "values": jsonb holding a number or a
-- string, or SQL NULL, modelled on what SQLite's json_extract returns (JSON null and a missing
-- property are NULL, booleans are the numbers 1 and 0, objects and arrays are their JSON text).

-- The number of a jsonb number, NULL for anything else. In PL/pgSQL on purpose: the planner
-- inlines SQL functions and folds constants in every CASE arm it keeps, so a bare `v::numeric`
-- there can fail on a string even where the arm would never run.
CREATE FUNCTION tm_number(v jsonb) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF jsonb_typeof(v) = 'number' THEN
        RETURN v::numeric;
    END IF;
    RETURN NULL;
END
$$;

-- A user property (or any jsonb) as a filter value.
CREATE FUNCTION tm_val(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'null' THEN NULL
        WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN '1'::jsonb ELSE '0'::jsonb END
        -- SQLite gives the minified JSON text: drop the spaces jsonb prints outside strings.
        WHEN 'object' THEN to_jsonb(regexp_replace(v::text, '("(?:[^"\\]|\\.)*")|\s+', '\1', 'g'))
        WHEN 'array' THEN to_jsonb(regexp_replace(v::text, '("(?:[^"\\]|\\.)*")|\s+', '\1', 'g'))
        ELSE v
    END
$$;

-- SQLite's type order for comparisons and sorting: numbers before text (NULL is NULL).
CREATE FUNCTION tm_rank(v jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'number' THEN 1 WHEN 'string' THEN 2 END
$$;

-- The number of a numeric value (NULL for text), for sorting.
CREATE FUNCTION tm_sort_num(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT tm_number(v)
$$;

-- The text of a text value (NULL for numbers), for sorting.
CREATE FUNCTION tm_sort_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END
$$;

-- Three-way comparison with SQLite's rules: NULL when either side is NULL, numbers before text,
-- numbers numerically, text byte by byte.
CREATE FUNCTION tm_cmp(a jsonb, b jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN NULL
        WHEN tm_rank(a) <> tm_rank(b) THEN sign(tm_rank(a) - tm_rank(b))::integer
        WHEN jsonb_typeof(a) = 'number' THEN sign(tm_number(a) - tm_number(b))::integer
        WHEN (a #>> '{}') COLLATE "C" < (b #>> '{}') COLLATE "C" THEN -1
        WHEN (a #>> '{}') = (b #>> '{}') THEN 0
        ELSE 1
    END
$$;

-- SQLite's null-safe `IS`: true when both are NULL or they compare equal.
CREATE FUNCTION tm_is(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL AND b IS NULL THEN true
        WHEN a IS NULL OR b IS NULL THEN false
        ELSE tm_cmp(a, b) = 0
    END
$$;

-- A value as a number, as SQLite converts operands of arithmetic: text gives its leading
-- number, or 0.
CREATE FUNCTION tm_num(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'number' THEN tm_number(v)
        WHEN 'string' THEN coalesce(
            substring(v #>> '{}' FROM '^\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)')::numeric,
            0)
    END
$$;

-- Whether a value is an integer in SQLite's sense (a JSON number written without '.' or 'e').
CREATE FUNCTION tm_is_int(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::text ~ '^-?[0-9]+$' ELSE false END
$$;

-- Whether arithmetic treats a value as an integer: integer numbers, and text unless its leading
-- number has a fraction or an exponent (SQLite reads '10' as 10 and 'abc' as the integer 0).
CREATE FUNCTION tm_int_like(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'number' THEN tm_is_int(v)
        WHEN 'string' THEN
            (v #>> '{}') !~ '^\s*[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+[eE][+-]?[0-9]+)'
        ELSE false
    END
$$;

-- A value as text, as SQLite converts operands of string functions (numbers give their text).
CREATE FUNCTION tm_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT v #>> '{}'
$$;

-- SQLite's NUMERIC affinity, applied to the other side of a comparison with the integer column
-- `deleted`: text that is a well-formed number becomes that number.
CREATE FUNCTION tm_numeric_affinity(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) = 'string'
             AND (v #>> '{}') ~ '^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$'
            THEN to_jsonb(tm_num(v))
        ELSE v
    END
$$;

-- A value as SQLite's WHERE reads it: true when its number is not 0.
CREATE FUNCTION tm_truthy(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT tm_num(v) <> 0
$$;

-- A boolean as a value (1, 0 or NULL), as SQLite's comparisons produce.
CREATE FUNCTION tm_from_bool(b boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN b THEN '1'::jsonb WHEN NOT b THEN '0'::jsonb END
$$;

-- A computed real as a value. SQLite computes reals in double precision; an integral real
-- keeps a ".0" (as SQLite prints it), so later arithmetic still treats it as a real.
CREATE FUNCTION tm_real(r double precision) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN r IS NULL THEN NULL
        WHEN r = 'Infinity' OR r = '-Infinity' OR r = 'NaN' THEN NULL
        WHEN r = trunc(r) THEN to_jsonb(r::numeric + 0.0)
        ELSE to_jsonb(r)
    END
$$;

-- `+`, `-` and `*` as SQLite does them: integers when both sides are integers, else reals.
CREATE FUNCTION tm_arith(op text, a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN NULL
        WHEN tm_int_like(a) AND tm_int_like(b) THEN to_jsonb(CASE op
            WHEN '+' THEN tm_num(a) + tm_num(b)
            WHEN '-' THEN tm_num(a) - tm_num(b)
            ELSE tm_num(a) * tm_num(b) END)
        ELSE tm_real(CASE op
            WHEN '+' THEN tm_num(a)::float8 + tm_num(b)::float8
            WHEN '-' THEN tm_num(a)::float8 - tm_num(b)::float8
            ELSE tm_num(a)::float8 * tm_num(b)::float8 END)
    END
$$;

-- Division as SQLite does it: integer division when both sides are integers, NULL by zero.
CREATE FUNCTION tm_div(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL OR tm_num(b) = 0 THEN NULL
        WHEN tm_int_like(a) AND tm_int_like(b) THEN to_jsonb(div(tm_num(a), tm_num(b)))
        ELSE tm_real(tm_num(a)::float8 / tm_num(b)::float8)
    END
$$;

-- Remainder as SQLite does it: on the integer parts, a real unless both sides are integers,
-- NULL by zero.
CREATE FUNCTION tm_mod(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL OR trunc(tm_num(b)) = 0 THEN NULL
        WHEN tm_int_like(a) AND tm_int_like(b) THEN to_jsonb(mod(tm_num(a), tm_num(b)))
        ELSE tm_real(mod(trunc(tm_num(a)), trunc(tm_num(b)))::float8)
    END
$$;

-- floor or ceiling as the SQLite store's functions do them: integers unchanged, reals rounded
-- and still reals, anything else NULL.
CREATE FUNCTION tm_round_with(how text, v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) <> 'number' THEN NULL
        WHEN tm_is_int(v) THEN v
        WHEN how = 'floor' THEN tm_real(floor(tm_number(v))::float8)
        ELSE tm_real(ceil(tm_number(v))::float8)
    END
$$;

-- Unicode case mapping independent of the database's locale (SQLite's store maps in Rust).
CREATE FUNCTION tm_lower(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string'
        THEN to_jsonb(lower((v #>> '{}') COLLATE "und-x-icu")) ELSE v END
$$;

CREATE FUNCTION tm_upper(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string'
        THEN to_jsonb(upper((v #>> '{}') COLLATE "und-x-icu")) ELSE v END
$$;

-- Parses the protocol's date strings (protocol crate, `date::parse_date`) into microseconds:
-- ISO 8601 with 0-7 fractional digits (truncated to microseconds) and `Z` or `±hh:mm`, or
-- `/Date(ms)/`. Anything else is NULL.
CREATE FUNCTION tm_parse_date(s text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    m text[];
    ms numeric;
    us bigint;
    offset_s integer := 0;
BEGIN
    IF s IS NULL THEN
        RETURN NULL;
    END IF;
    m := regexp_match(s, '^/Date\((-?[0-9]{1,20})(?:[+-][0-9]{4})?\)/$');
    IF m IS NOT NULL THEN
        ms := m[1]::numeric;
        IF ms < -8334601228800000 OR ms > 8210266876799999 THEN
            RETURN NULL;
        END IF;
        RETURN (ms * 1000)::bigint;
    END IF;
    m := regexp_match(s, '^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,7}))?)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$');
    IF m IS NULL OR m[4]::int > 23 OR m[5]::int > 59 OR coalesce(m[6], '0')::int > 59 THEN
        RETURN NULL;
    END IF;
    IF m[8] IS NULL THEN
        IF m[9] IS NULL OR m[10]::int > 23 OR m[11]::int > 59 THEN
            RETURN NULL;
        END IF;
        offset_s := (m[10]::int * 3600 + m[11]::int * 60) * CASE WHEN m[9] = '-' THEN -1 ELSE 1 END;
    END IF;
    us := (extract(epoch FROM make_timestamp(m[1]::int, m[2]::int, m[3]::int, m[4]::int,
                                             m[5]::int, coalesce(m[6], '0')::int))
           * 1000000)::bigint;
    RETURN us + coalesce(rpad(left(m[7], 6), 6, '0')::bigint, 0) - offset_s::bigint * 1000000;
EXCEPTION WHEN others THEN
    -- An impossible date (February 30th) or one beyond PostgreSQL's range.
    RETURN NULL;
END
$$;

-- A value as a date in microseconds: integers already are (date columns), text is parsed,
-- anything else is NULL.
CREATE FUNCTION tm_micros(v jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Nested CASEs: PostgreSQL does not promise to evaluate AND operands in order.
    SELECT CASE
        WHEN tm_is_int(v) THEN CASE
            WHEN tm_number(v) BETWEEN -9223372036854775808 AND 9223372036854775807
                THEN tm_number(v)::bigint
        END
        WHEN jsonb_typeof(v) = 'string' THEN tm_parse_date(v #>> '{}')
    END
$$;

-- A part (year, month, day, hour, minute, second) of a date in microseconds, in UTC.
CREATE FUNCTION tm_date_part(part text, us bigint) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF us IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN to_jsonb(floor(date_part(part,
        timestamp '1970-01-01 00:00:00' + make_interval(secs => 0) + (us / 1000000) * interval '1 second'
        + (us % 1000000) * interval '1 microsecond'))::bigint);
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
