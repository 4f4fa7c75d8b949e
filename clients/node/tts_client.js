#!/usr/bin/env node
// Streams text to the TextToSpeech server and receives audio: a Node.js client
// built from proto/ at run time with @grpc/proto-loader.
//
// usage: node clients/node/tts_client.js --address HOST:PORT --language en
//        [--voice NAME] [--rate 16000] [--out file.pcm] TEXT...
// Prints one JSON line: chunk and byte counts, markers, first-audio time.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const opts = { address: '127.0.0.1:50053', language: 'en', voice: '', rate: 16000, out: '', text: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag.startsWith('--')) {
      opts[flag.slice(2)] = argv[++i];
    } else {
      opts.text.push(flag);
    }
  }
  opts.rate = Number(opts.rate);
  return opts;
}

function loadService() {
  const protoRoot = path.resolve(__dirname, '..', '..', 'proto');
  const definition = protoLoader.loadSync('lingua/tts/v1/tts.proto', {
    includeDirs: [protoRoot],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).lingua.tts.v1.TextToSpeechService;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const Service = loadService();
  const client = new Service(opts.address, grpc.credentials.createInsecure());
  const call = client.StreamingSynthesize();
  const started = process.hrtime.bigint();
  const summary = { chunks: 0, bytes: 0, markers: [], firstAudioMs: null, frameBytes: (opts.rate / 50) * 2 };
  const audio = [];

  call.on('data', (response) => {
    if (response.audio) {
      if (summary.firstAudioMs === null) {
        summary.firstAudioMs = Number(process.hrtime.bigint() - started) / 1e6;
      }
      summary.chunks += 1;
      summary.bytes += response.audio.audioContent.length;
      audio.push(response.audio.audioContent);
    } else if (response.marker) {
      summary.markers.push({ type: response.marker.type, segmentId: response.marker.segmentId });
    }
  });
  call.on('error', (err) => {
    console.log(JSON.stringify({ error: { code: err.code, details: err.details } }));
    process.exitCode = 1;
  });
  call.on('end', () => {
    if (opts.out) fs.writeFileSync(opts.out, Buffer.concat(audio));
    console.log(JSON.stringify(summary));
    client.close();
  });

  const config = { languageCode: opts.language, format: { encoding: 'AUDIO_ENCODING_LINEAR16', sampleRateHertz: opts.rate } };
  if (opts.voice) config.voiceName = opts.voice;
  call.write({ config });
  for (const word of opts.text.join(' ').split(/(?<= )/)) {
    call.write({ text: { text: word, segmentId: 's1' } });
  }
  call.write({ flush: { segmentId: 's1' } });
  call.end();
}

main();
