#!/usr/bin/env node
// An independent OCPP charger: the npm package ocpp-rpc in strict mode, 1.6 or 2.0.1.
//
//   node charger.js --url ws://127.0.0.1:9000/ --id RPC-16 --protocol ocpp1.6 [--meters 3]
//                   [--wait-for GetConfiguration,SetChargingProfile:2] [--hold-ms 20000]
//
// Boots, reports Available, authorizes, starts a transaction, sends --meters meter values with a
// rising energy register, waits until the CSMS has made the calls --wait-for names (METHOD or
// METHOD:COUNT; at most --hold-ms, a safety bound), stops, and reports Available again.
// Strict mode validates every call and response both ways against the OCPP
// JSON schemas bundled with ocpp-rpc: an invalid frame from the CSMS is refused and logged.
// It answers GetConfiguration / GetVariables (SmartCharging, A and W, stack level 8),
// SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, ChangeConfiguration,
// SetVariables and TriggerMessage; anything else gets NotImplemented.
//
// Output: one JSON object per line on stdout:
//   {"event":"result","method":...,"result":...}      a call it made and the CSMS's answer
//   {"event":"call-error","method":...,"error":...}   a call it made that failed (CALLERROR, timeout)
//   {"event":"call-in","method":...,"params":...}     a call the CSMS made to it
//   {"event":"strict-failure",...}                    a frame that broke the schema (either way)
//   {"event":"done","ok":bool,"strictFailures":n,"callErrors":n}
// Exit status 0 when every call was answered, every --wait-for call came and nothing broke the
// schema, else 1.
'use strict';
const { RPCClient, createRPCError } = require('ocpp-rpc');

function option(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
}

// ocpp-rpc joins endpoint + '/' + identity: drop a trailing slash so the path is /<identity>, not //<identity>
const url = option('url').replace(/\/+$/, '');
const identity = option('id', 'RPC-CHARGER');
const protocol = option('protocol', 'ocpp1.6');
const meters = Number(option('meters', '3'));
const holdMs = Number(option('hold-ms', '20000'));
const waitFor = (option('wait-for', '') || '').split(',').filter(Boolean).map((item) => {
    const [method, count] = item.split(':');
    return { method, count: Number(count || '1') };
});
const received = {};
let onReceived = () => {};
const v16 = protocol === 'ocpp1.6';
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let strictFailures = 0;
let callErrors = 0;

const client = new RPCClient({
    endpoint: url, identity, protocols: [protocol], strictMode: true, reconnect: false, callTimeoutMs: 15000,
});
client.on('strictValidationFailure', (event) => {
    strictFailures += 1;
    out({ event: 'strict-failure', method: event.method, outbound: event.outbound, isCall: event.isCall,
          error: String(event.error && event.error.message), params: event.params });
});

const record = (method) => ({ params }) => {
    out({ event: 'call-in', method, params });
    received[method] = (received[method] || 0) + 1;
    onReceived();
};
const missing = () => waitFor.filter(({ method, count }) => (received[method] || 0) < count).map(({ method }) => method);

// Resolves when every --wait-for call has come in, or after --hold-ms (then says what is missing).
function awaitCalls() {
    return new Promise((resolve) => {
        const timer = setTimeout(() => { out({ event: 'waited', missing: missing() }); resolve(); }, holdMs);
        onReceived = () => {
            if (missing().length === 0) { clearTimeout(timer); out({ event: 'waited', missing: [] }); resolve(); }
        };
        onReceived();
    });
}
const reply = (method, answer) => client.handle(method, (call) => { record(method)(call); return answer(call.params); });
const config16 = {
    SupportedFeatureProfiles: 'Core,SmartCharging,RemoteTrigger', ChargeProfileMaxStackLevel: '8',
    ChargingScheduleAllowedChargingRateUnit: 'Current,Power', ChargingScheduleMaxPeriods: '24',
    MaxChargingProfilesInstalled: '16', NumberOfConnectors: '1', MeterValueSampleInterval: '60',
};
const variables201 = {
    'SmartChargingCtrlr/Enabled': 'true', 'SmartChargingCtrlr/Available': 'true', 'SmartChargingCtrlr/RateUnit': 'A,W',
    'SmartChargingCtrlr/ProfileStackLevel': '8', 'SmartChargingCtrlr/PeriodsPerSchedule': '24',
    'SmartChargingCtrlr/Entries': '16', 'SampledDataCtrlr/TxUpdatedInterval': '60',
};
reply('GetConfiguration', (p) => {
    const keys = p.key && p.key.length ? p.key : Object.keys(config16);
    return {
        configurationKey: keys.filter((k) => k in config16).map((k) => ({ key: k, readonly: true, value: config16[k] })),
        unknownKey: keys.filter((k) => !(k in config16)),
    };
});
reply('GetVariables', (p) => ({
    getVariableResult: p.getVariableData.map((d) => {
        const value = variables201[`${d.component.name}/${d.variable.name}`];
        return value === undefined
            ? { attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable }
            : { attributeStatus: 'Accepted', attributeValue: value, component: d.component, variable: d.variable };
    }),
}));
reply('SetChargingProfile', () => ({ status: 'Accepted' }));
reply('ClearChargingProfile', () => ({ status: 'Accepted' }));
reply('GetCompositeSchedule', () => ({ status: 'Rejected' }));
reply('ChangeConfiguration', () => ({ status: 'Accepted' }));
reply('SetVariables', (p) => ({
    setVariableResult: p.setVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component,
                                                      variable: d.variable })),
}));
reply('TriggerMessage', () => ({ status: 'Rejected' }));
client.handle(({ method, params }) => {
    record(method)({ params });
    throw createRPCError('NotImplemented');
});

async function send(method, params) {
    try {
        const result = await client.call(method, params);
        out({ event: 'result', method, result });
        return result;
    } catch (error) {
        callErrors += 1;
        out({ event: 'call-error', method, error: String(error && error.message), code: error && error.rpcErrorCode });
        return null;
    }
}

const now = () => new Date().toISOString();
const energy = (wh, context) => v16
    ? [{ timestamp: now(), sampledValue: [
        { value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context },
        { value: '7360', measurand: 'Power.Active.Import', unit: 'W', context },
        { value: '16.0', measurand: 'Current.Import', phase: 'L1', unit: 'A', context },
        { value: '16.0', measurand: 'Current.Offered', unit: 'A', context }] }]
    : [{ timestamp: now(), sampledValue: [
        { value: wh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' }, context },
        { value: 7360, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' }, context },
        { value: 16, measurand: 'Current.Import', phase: 'L1', unitOfMeasure: { unit: 'A' }, context },
        { value: 16, measurand: 'Current.Offered', unitOfMeasure: { unit: 'A' }, context }] }];

async function session16() {
    await send('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'strict-peer' });
    await send('StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available' });
    await send('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: now() });
    await send('Authorize', { idTag: 'RPC-TAG' });
    const started = await send('StartTransaction', { connectorId: 1, idTag: 'RPC-TAG', meterStart: 0, timestamp: now() });
    const transactionId = started ? started.transactionId : 0;
    await send('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: now() });
    for (let i = 1; i <= meters; i += 1) {
        await send('MeterValues', { connectorId: 1, transactionId, meterValue: energy(100 * i, 'Sample.Periodic') });
    }
    await send('Heartbeat', {});
    await awaitCalls();
    await send('StopTransaction', { transactionId, meterStop: 100 * meters, timestamp: now(), reason: 'EVDisconnected',
                                    idTag: 'RPC-TAG' });
    await send('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() });
}

async function session201() {
    const evse = { id: 1, connectorId: 1 };
    const token = { idToken: 'RPC-TAG', type: 'ISO14443' };
    const txId = `${identity}-tx1`;
    let seqNo = 0;
    const event = (eventType, triggerReason, extra) => send('TransactionEvent', {
        eventType, timestamp: now(), triggerReason, seqNo: seqNo++, ...extra });
    await send('BootNotification', { chargingStation: { vendorName: 'ocpp-rpc', model: 'strict-peer' }, reason: 'PowerUp' });
    await send('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
    await send('Authorize', { idToken: token });
    await event('Started', 'Authorized', { transactionInfo: { transactionId: txId, chargingState: 'Charging' }, evse,
                                          idToken: token, meterValue: energy(0, 'Transaction.Begin') });
    await send('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_three_phase',
        departureTime: new Date(Date.now() + 4 * 3600e3).toISOString(),
        acChargingParameters: { energyAmount: 20000, evMinCurrent: 6, evMaxCurrent: 16, evMaxVoltage: 400 } } });
    for (let i = 1; i <= meters; i += 1) {
        await event('Updated', 'MeterValuePeriodic', { transactionInfo: { transactionId: txId },
                                                      meterValue: energy(100 * i, 'Sample.Periodic') });
    }
    await send('Heartbeat', {});
    await awaitCalls();
    await event('Ended', 'EVCommunicationLost', { transactionInfo: { transactionId: txId, stoppedReason: 'EVDisconnected' },
                                                 meterValue: energy(100 * meters, 'Transaction.End') });
    await send('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
}

(async () => {
    let ok = false;
    try {
        await client.connect();
        await (v16 ? session16() : session201());
        ok = strictFailures === 0 && callErrors === 0 && missing().length === 0;
    } catch (error) {
        out({ event: 'fatal', error: String(error && error.stack) });
    } finally {
        await client.close({ code: 1000 }).catch(() => {});
        out({ event: 'done', ok, strictFailures, callErrors, missing: missing(), received });
        process.exitCode = ok ? 0 : 1;
    }
})();
