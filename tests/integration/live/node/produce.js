// A producer written as RabbitMQ's JavaScript tutorials write one: a plain durable queue, one persistent message.
// It sends the seed's exact message; the lab's cache-worker must take it as its own.
// usage: node produce.js AMQP_URL QUEUE
const amqp = require('amqplib');

async function main() {
  const [url, queue] = process.argv.slice(2);
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    const message = { action: 'invalidateCache', keys: ['blogs:*'] };
    channel.sendToQueue(queue, Buffer.from(JSON.stringify(message)), { persistent: true });
    await channel.waitForConfirms();
    console.log(`sent ${JSON.stringify(message)} to ${queue}`);
  } finally {
    await connection.close();
  }
}

main().catch((error) => {
  console.error(`produce.js: ${error.message}`);
  process.exit(1);
});
