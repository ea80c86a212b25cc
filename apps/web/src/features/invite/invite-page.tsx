import { Center, Text } from '@mantine/core';

/** Accepting an invitation: public (no session), reached from the link an admin shared. */
export function InvitePage({ token }: { token: string }) {
  return (
    <Center mih="100vh">
      <Text>Invitation {token.length > 0 ? 'link' : ''}</Text>
    </Center>
  );
}
