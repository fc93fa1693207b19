// test.js - black-box compatibility of rilld with KafkaJS (pure JavaScript
// Kafka client, pinned in package.json). Run by tests/compat/test_kafkajs.sh:
//
//     node test.js 127.0.0.1:PORT
//
// Steps, each checked exactly:
//   admin: createTopics (3 partitions), listTopics, fetchTopicMetadata;
//   producer: send keyed records with headers, acks=-1, then gzip-compressed
//     records with explicit partitions;
//   consumer group: subscribe fromBeginning, receive every record (keys,
//     values, headers, per-partition order), commit the offsets, leave;
//   admin: fetchOffsets equals the partitions' high watermarks,
//     describeGroups knows the group;
//   a second consumer in the same group resumes at the committed offsets and
//     sees only the records produced since (none re-read);
//   admin: deleteTopics removes the topic.
// Any failure prints "FAIL: ..." and exits 1; an overall timer fails the run
// if anything hangs.
'use strict'

const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

const OVERALL_TIMEOUT_MS = 240000
const STEP_TIMEOUT_MS = 60000

const broker = process.argv[2]
if (!broker) {
  console.error('usage: node test.js HOST:PORT')
  process.exit(2)
}

const overall = setTimeout(() => {
  console.error(`FAIL: the KafkaJS test did not finish within ${OVERALL_TIMEOUT_MS} ms (last step: ${step})`)
  process.exit(1)
}, OVERALL_TIMEOUT_MS)

let step = 'start'
function begin (name) {
  step = name
  console.log(`-- ${name}`)
}

function check (cond, msg) {
  if (!cond) throw new Error(msg)
}

function eq (actual, expected, msg) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new Error(`${msg}: got ${a}, want ${e}`)
}

// Resolves when pred() holds, polling; rejects after ms.
async function waitFor (pred, ms, what) {
  const deadline = Date.now() + ms
  for (;;) {
    if (await pred()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50)) // pacing the poll loop
  }
}

async function main () {
  const kafka = new Kafka({
    clientId: 'rill-compat-kafkajs',
    brokers: [broker],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 }
  })
  const topic = `kafkajs-${process.pid}`
  const groupId = `kafkajs-group-${process.pid}`
  const admin = kafka.admin()
  const clients = [admin]

  try {
    begin('admin connect')
    await admin.connect()

    begin('createTopics')
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
      waitForLeaders: true
    })
    eq(created, true, 'createTopics result')

    begin('listTopics')
    const topics = await admin.listTopics()
    check(topics.includes(topic), `listTopics does not include ${topic}: ${JSON.stringify(topics)}`)

    begin('fetchTopicMetadata')
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    eq(md.topics.length, 1, 'fetchTopicMetadata topics')
    eq(md.topics[0].name, topic, 'fetchTopicMetadata topic name')
    const parts = md.topics[0].partitions.map(p => p.partitionId).sort()
    eq(parts, [0, 1, 2], 'fetchTopicMetadata partitions')
    for (const p of md.topics[0].partitions) {
      eq(p.partitionErrorCode, 0, `partition ${p.partitionId} error code`)
      check(p.leader >= 0, `partition ${p.partitionId} has no leader`)
      eq(p.replicas, [p.leader], `partition ${p.partitionId} replicas`)
      eq(p.isr, [p.leader], `partition ${p.partitionId} isr`)
    }

    begin('producer send (keys, headers, acks=-1)')
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    clients.push(producer)
    await producer.connect()
    const first = []
    for (let i = 0; i < 60; i++) {
      first.push({
        key: `key-${i % 6}`,
        value: `value-${i}`,
        headers: { 'x-seq': String(i), 'x-src': 'kafkajs' }
      })
    }
    const meta = await producer.send({ topic, acks: -1, messages: first })
    check(Array.isArray(meta) && meta.length > 0, `send returned ${JSON.stringify(meta)}`)
    for (const m of meta) {
      eq(m.topicName, topic, 'send result topic')
      eq(m.errorCode, 0, `send result error code for partition ${m.partition}`)
      check(Number(m.baseOffset) >= 0, `send result base offset ${m.baseOffset}`)
    }

    begin('fetchTopicOffsets after the first send')
    const hw1 = await admin.fetchTopicOffsets(topic)
    const total1 = hw1.reduce((n, p) => n + Number(p.high), 0)
    eq(total1, 60, 'sum of high watermarks')
    for (const p of hw1) eq(Number(p.low), 0, `low watermark of partition ${p.partition}`)

    begin('consumer group: subscribe fromBeginning, receive all, commit')
    const got1 = []
    const c1 = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 })
    clients.push(c1)
    await c1.connect()
    await c1.subscribe({ topics: [topic], fromBeginning: true })
    await c1.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        got1.push({ partition, message })
      }
    })
    await waitFor(() => got1.length >= 60, STEP_TIMEOUT_MS, '60 messages in the first consumer')
    eq(got1.length, 60, 'messages received by the first consumer')
    const values = got1.map(g => g.message.value.toString()).sort()
    eq(values, first.map(m => m.value).sort(), 'values received')
    const lastSeq = {}
    const partOfKey = {}
    const nextOffset = {}
    for (const { partition, message } of got1) {
      const key = message.key.toString()
      const seq = Number(message.value.toString().slice('value-'.length))
      eq(message.headers['x-seq'].toString(), String(seq), `header x-seq of ${key}`)
      eq(message.headers['x-src'].toString(), 'kafkajs', `header x-src of ${key}`)
      eq(key, `key-${seq % 6}`, `key of value-${seq}`)
      check(!(key in lastSeq) || seq > lastSeq[key], `${key}: value-${seq} after value-${lastSeq[key]}`)
      lastSeq[key] = seq
      check(!(key in partOfKey) || partOfKey[key] === partition, `${key} in partitions ${partOfKey[key]} and ${partition}`)
      partOfKey[key] = partition
      const off = Number(message.offset)
      check(!(partition in nextOffset) || off === nextOffset[partition], `partition ${partition}: offset ${off} after ${nextOffset[partition] - 1}`)
      nextOffset[partition] = off + 1
    }
    const commits = Object.keys(nextOffset).map(p => ({ topic, partition: Number(p), offset: String(nextOffset[p]) }))
    await c1.commitOffsets(commits)

    begin('describeGroups while the first consumer is a member')
    const d1 = await admin.describeGroups([groupId])
    eq(d1.groups.length, 1, 'describeGroups groups')
    eq(d1.groups[0].groupId, groupId, 'describeGroups groupId')
    eq(d1.groups[0].errorCode, 0, 'describeGroups error code')
    eq(d1.groups[0].state, 'Stable', 'describeGroups state')
    eq(d1.groups[0].protocolType, 'consumer', 'describeGroups protocolType')
    eq(d1.groups[0].members.length, 1, 'describeGroups members')
    await c1.disconnect()

    begin('fetchOffsets equals the high watermarks')
    const offs = await admin.fetchOffsets({ groupId, topics: [topic] })
    eq(offs.length, 1, 'fetchOffsets topics')
    const committed = {}
    for (const p of offs[0].partitions) committed[p.partition] = Number(p.offset)
    for (const p of hw1) {
      eq(committed[p.partition], Number(p.high), `committed offset of partition ${p.partition}`)
    }

    begin('describeGroups after the member left')
    const d2 = await admin.describeGroups([groupId])
    eq(d2.groups[0].state, 'Empty', 'describeGroups state after leave')
    eq(d2.groups[0].members.length, 0, 'describeGroups members after leave')

    begin('second send (explicit partitions, gzip)')
    const second = []
    for (let i = 0; i < 12; i++) second.push({ partition: i % 3, key: `new-${i}`, value: `new-value-${i}` })
    const meta2 = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: second })
    for (const m of meta2) eq(m.errorCode, 0, `second send error code for partition ${m.partition}`)

    begin('second consumer in the same group resumes without re-reading')
    const got2 = []
    const c2 = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 })
    clients.push(c2)
    await c2.connect()
    await c2.subscribe({ topics: [topic], fromBeginning: true })
    await c2.run({
      autoCommit: true,
      eachMessage: async ({ partition, message }) => {
        got2.push({ partition, message })
      }
    })
    // Every partition got new records; an old record re-read would come
    // before them in its partition, so once all 12 arrived any re-read has too.
    await waitFor(() => got2.length >= 12, STEP_TIMEOUT_MS, '12 messages in the second consumer')
    const v2 = got2.map(g => g.message.value.toString()).sort()
    eq(v2, second.map(m => m.value).sort(), 'values received by the second consumer')
    for (const { partition, message } of got2) {
      check(Number(message.offset) >= committed[partition], `re-read offset ${message.offset} of partition ${partition}`)
    }
    await c2.disconnect()

    begin('deleteTopics')
    await admin.deleteTopics({ topics: [topic], timeout: 30000 })
    await waitFor(async () => !(await admin.listTopics()).includes(topic), STEP_TIMEOUT_MS, `${topic} to disappear from listTopics`)

    await producer.disconnect()
    await admin.disconnect()
  } catch (e) {
    for (const c of clients) {
      try { await c.disconnect() } catch (_) {}
    }
    throw e
  }
}

main().then(() => {
  clearTimeout(overall)
  console.log('PASS: KafkaJS compatibility')
  process.exit(0)
}, e => {
  console.error(`FAIL: ${step}: ${e && e.stack ? e.stack : e}`)
  process.exit(1)
})
