#!/usr/bin/env node
// An independent OCPP central system: the npm package ocpp-rpc's RPCServer in strict mode,
// speaking ocpp1.6 and ocpp2.0.1 on one port.
//
//   node csms.js [--port 0] [--calls calls.json]
//
// Prints "listening on ws://127.0.0.1:PORT/" once bound, then one JSON object per line:
//   {"event":"connected","identity":...,"protocol":...}
//   {"event":"call-in","identity":...,"method":...,"params":...}   a charger's call (answered)
//   {"event":"result","identity":...,"method":...,"result":...}    the answer to a call it made
//   {"event":"call-error","identity":...,"method":...,"error":...,"code":...}
//   {"event":"strict-failure","identity":...,...}                   a frame that broke the schema
//   {"event":"disconnected","identity":...}
// --calls names a JSON file {"ocpp1.6": [{"method":..., "params":...}], "ocpp2.0.1": [...]}: the calls
// it makes, in order, to each charger after its BootNotification has been answered. A string
// param "$transactionId" is replaced by the charger's current transaction id.
// It also serves as the upstream back office of a proxy: it answers every charger call it knows.
// Runs until SIGTERM / SIGINT.
'use strict';
const fs = require('fs');
const { RPCServer, createRPCError } = require('ocpp-rpc');

function option(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(option('port', '0'));
const callsFile = option('calls');
const script = callsFile ? JSON.parse(fs.readFileSync(callsFile, 'utf8')) : {};
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const now = () => new Date().toISOString();
let nextTransactionId = 1;

const answers = {
    BootNotification: () => ({ status: 'Accepted', interval: 300, currentTime: now() }),
    Heartbeat: () => ({ currentTime: now() }),
    StatusNotification: () => ({}),
    Authorize: (p, v16) => (v16 ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } }),
    StartTransaction: (p, v16, state) => {
        state.transactionId = nextTransactionId++;
        return { transactionId: state.transactionId, idTagInfo: { status: 'Accepted' } };
    },
    StopTransaction: () => ({}),
    MeterValues: () => ({}),
    TransactionEvent: (p, v16, state) => {
        if (p.eventType === 'Started') state.transactionId = p.transactionInfo.transactionId;
        return p.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
    },
    NotifyEVChargingNeeds: () => ({ status: 'Accepted' }),
    DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

function substitute(value, state) {
    if (value === '$transactionId') return state.transactionId;
    if (Array.isArray(value)) return value.map((v) => substitute(v, state));
    if (value && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, state)]));
    }
    return value;
}

async function runScript(client, state) {
    for (const { method, params } of script[client.protocol] || []) {
        try {
            const result = await client.call(method, substitute(params, state));
            out({ event: 'result', identity: client.identity, method, result });
        } catch (error) {
            out({ event: 'call-error', identity: client.identity, method, error: String(error && error.message),
                  code: error && error.rpcErrorCode });
        }
    }
    out({ event: 'script-done', identity: client.identity });
}

const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true, callTimeoutMs: 15000 });
server.auth((accept) => accept({}));
server.on('client', (client) => {
    const v16 = client.protocol === 'ocpp1.6';
    const state = { transactionId: null, scripted: false };
    out({ event: 'connected', identity: client.identity, protocol: client.protocol });
    client.on('strictValidationFailure', (event) => out({
        event: 'strict-failure', identity: client.identity, method: event.method, outbound: event.outbound,
        isCall: event.isCall, error: String(event.error && event.error.message), params: event.params }));
    client.on('close', () => out({ event: 'disconnected', identity: client.identity }));
    client.handle(({ method, params }) => {
        out({ event: 'call-in', identity: client.identity, method, params });
        const answer = answers[method];
        if (!answer) throw createRPCError('NotImplemented');
        const result = answer(params, v16, state);
        if (method === 'BootNotification' && !state.scripted) {
            state.scripted = true;
            setImmediate(() => runScript(client, state)); // calls run outside the handler, after the reply
        }
        return result;
    });
});

(async () => {
    const httpServer = await server.listen(port, '127.0.0.1');
    process.stdout.write(`listening on ws://127.0.0.1:${httpServer.address().port}/\n`);
})();
const stop = () => server.close({ code: 1001, awaitPending: false }).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
