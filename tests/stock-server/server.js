'use strict';
// The stock Azure Mobile Apps reference server (npm `azure-mobile-apps` v4) with one
// `todoitem` table, for Tidemark's tests. Started by `scripts/stock-server run`, which
// installs the packages into a cache directory and runs a copy of this file from there.
//
// Options (a command-line flag wins over its environment variable):
//   --port N        TIDEMARK_STOCK_PORT       TCP port on 127.0.0.1; 0 (default) picks a free one
//   --db FILE       TIDEMARK_STOCK_DB         SQLite file; ':memory:' (default) keeps data in memory
//   --page-size N   TIDEMARK_STOCK_PAGE_SIZE  rows a query returns without $top (default 50)
//   --max-top N     TIDEMARK_STOCK_MAX_TOP    largest $top accepted, else 400 (default 1000)
//   --log-level L   TIDEMARK_STOCK_LOG_LEVEL  winston level: error, warn, info, verbose, debug, silly (default warn)
//
// Once the table is created and the socket is bound it prints, on stdout, exactly one line
//   stock server listening on http://127.0.0.1:PORT
// and it exits with status 0 on SIGTERM or SIGINT.

const path = require('path');
const express = require('express');
const azureMobileApps = require('azure-mobile-apps');
const sqlite3 = require('sqlite3');

// The logger is configured with winston 2 transports; use the copy azure-mobile-apps loads.
const winston = require(require.resolve('winston', {
    paths: [path.dirname(require.resolve('azure-mobile-apps/package.json'))],
}));

const HOST = '127.0.0.1';

function parseArgs(argv) {
    const flags = { port: 'port', db: 'db', 'page-size': 'pageSize', 'max-top': 'maxTop', 'log-level': 'logLevel' };
    const out = {};
    for (let i = 0; i < argv.length; i++) {
        let arg = argv[i];
        let value;
        const eq = arg.indexOf('=');
        if (eq > 0) {
            value = arg.slice(eq + 1);
            arg = arg.slice(0, eq);
        }
        const key = arg.startsWith('--') ? flags[arg.slice(2)] : undefined;
        if (!key) fail(`unknown argument: ${argv[i]}`);
        if (value === undefined) {
            if (i + 1 >= argv.length) fail(`${arg} needs a value`);
            value = argv[++i];
        }
        out[key] = value;
    }
    return out;
}

function integer(name, value, min) {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer >= ${min}, got '${value}'`);
    return n;
}

function fail(message) {
    process.stderr.write(`stock server: ${message}\n`);
    process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const env = process.env;
const port = integer('port', args.port ?? env.TIDEMARK_STOCK_PORT ?? '0', 0);
const dbFile = args.db ?? env.TIDEMARK_STOCK_DB ?? ':memory:';
const pageSize = integer('page size', args.pageSize ?? env.TIDEMARK_STOCK_PAGE_SIZE ?? '50', 1);
const maxTop = integer('max top', args.maxTop ?? env.TIDEMARK_STOCK_MAX_TOP ?? '1000', 1);
const logLevel = args.logLevel ?? env.TIDEMARK_STOCK_LOG_LEVEL ?? 'warn';
if (port > 65535) fail(`port must be at most 65535, got ${port}`);

const app = express();

// Everything not named here keeps the package's defaults (src/configuration/defaults.js):
// tables under /tables, ZUMO-API-VERSION 2.0.0 required, no authentication required.
const mobileApp = azureMobileApps({
    homePage: false,
    swagger: false,
    pageSize: pageSize,
    maxTop: maxTop,
    data: {
        provider: 'sqlite',
        filename: dbFile,
        dynamicSchema: true,
    },
    logging: {
        level: logLevel,
        transports: [new winston.transports.Console({
            colorize: false,
            timestamp: true,
            showLevel: true,
            stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug', 'silly'],
        })],
    },
});

mobileApp.tables.add('todoitem', {
    softDelete: true,
    dynamicSchema: true,
    columns: {
        text: 'string',
        complete: 'boolean',
    },
});

app.use(mobileApp);

let server;

function shutdown(signal) {
    process.stderr.write(`stock server: ${signal}, stopping\n`);
    const done = () => {
        const db = sqlite3.cached.objects && sqlite3.cached.objects[dbFile];
        if (db) db.close(() => process.exit(0));
        else process.exit(0);
    };
    if (!server) return done();
    server.close(done);
    if (server.closeAllConnections) server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

mobileApp.tables.initialize()
    .then(() => {
        server = app.listen(port, HOST, () => {
            const bound = server.address();
            process.stdout.write(`stock server listening on http://${HOST}:${bound.port}\n`);
        });
        server.on('error', (err) => fail(`cannot listen on ${HOST}:${port}: ${err.message}`));
    })
    .catch((err) => fail(`cannot initialize the todoitem table in ${dbFile}: ${err && err.stack || err}`));
